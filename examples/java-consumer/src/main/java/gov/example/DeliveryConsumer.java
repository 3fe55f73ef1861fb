package gov.example;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import org.apache.avro.Schema;
import org.apache.avro.data.TimeConversions;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.message.SchemaStore;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a department's delivery topic, govbus.deliver.&lt;department&gt;, with its own SCRAM
 * user (`govbus acl user &lt;department&gt;`; `govbus acl sync` grants the read) and decodes
 * each value with Apache Avro.
 *
 * <p>Values are Avro single-object encoded: 0xC3 0x01, the writer schema's CRC-64-AVRO
 * fingerprint (8 bytes, little-endian), the Avro binary body. The writer schemas are the
 * records of the topic govbus.schemas (the same schemas the gateway serves at each delivery's
 * CloudEvents {@code dataschema} URL, GET /v1/schemas/{fingerprint}); Avro's own {@link
 * SchemaStore} finds one by fingerprint. The CloudEvents attributes are headers: ce_id (your
 * delivery id), ce_type, ce_govbuscorrects (the delivery id a correction or retraction amends)
 * and ce_govbusretract ("true" for a retraction).
 *
 * <p>Arguments: bootstrap department password [max records]. Prints per record a line "ce_id
 * ce_type amendment amends" (amendment: correction, retraction or -), then one line per field,
 * "    name: value".
 */
public final class DeliveryConsumer {
  private static final byte[] MAGIC = {(byte) 0xC3, 0x01};
  private static final String SCHEMAS = "govbus.schemas";

  private DeliveryConsumer() {}

  public static void main(String[] args) throws IOException {
    String bootstrap = args[0];
    String department = args[1];
    String password = args[2];
    long max = args.length > 3 ? Long.parseLong(args[3]) : Long.MAX_VALUE;

    Properties config = scram(bootstrap, department, password);
    SchemaStore.Cache schemas = readSchemas(config);
    // Dates as java.time.LocalDate rather than days since the epoch.
    GenericData model = new GenericData();
    model.addLogicalTypeConversion(new TimeConversions.DateConversion());

    config.put(ConsumerConfig.GROUP_ID_CONFIG, department + ".java-example"); // '<dept>.' groups
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    long seen = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config)) {
      consumer.subscribe(List.of("govbus.deliver." + department));
      while (seen < max) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofSeconds(2))) {
          byte[] value = record.value();
          Schema writer = writerSchema(value, schemas);
          if (writer == null) {
            schemas = readSchemas(config); // a schema published after we started
            writer = writerSchema(value, schemas);
          }
          if (writer == null) {
            throw new IllegalStateException("no schema for the delivery " + header(record, "ce_id"));
          }
          GenericRecord data = decode(value, writer, model);
          String corrects = header(record, "ce_govbuscorrects");
          String amendment =
              corrects.equals("-")
                  ? "-"
                  : "true".equals(header(record, "ce_govbusretract")) ? "retraction" : "correction";
          System.out.println(
              header(record, "ce_id") + " " + header(record, "ce_type") + " " + amendment + " "
                  + corrects);
          for (Schema.Field field : writer.getFields()) {
            System.out.println("    " + field.name() + ": " + data.get(field.pos()));
          }
          seen++;
        }
        consumer.commitSync(); // after handling what was polled
      }
    }
  }

  /** The department's SCRAM credentials, read-committed (the bus writes in transactions). */
  private static Properties scram(String bootstrap, String department, String password) {
    Properties config = new Properties();
    config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    config.put("security.protocol", "SASL_PLAINTEXT"); // SASL_SSL on a real network
    config.put("sasl.mechanism", "SCRAM-SHA-512");
    config.put(
        "sasl.jaas.config",
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
            + department
            + "\" password=\""
            + password
            + "\";");
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    return config;
  }

  /** Every schema on govbus.schemas (read to its end, no consumer group), by fingerprint. */
  private static SchemaStore.Cache readSchemas(Properties scram) {
    SchemaStore.Cache store = new SchemaStore.Cache();
    TopicPartition topic = new TopicPartition(SCHEMAS, 0);
    Instant deadline = Instant.now().plusSeconds(60);
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(scram)) {
      consumer.assign(List.of(topic));
      consumer.seekToBeginning(List.of(topic));
      long end = consumer.endOffsets(List.of(topic)).get(topic);
      // The position passes transaction markers too, so it reaches the end offset.
      while (consumer.position(topic) < end && Instant.now().isBefore(deadline)) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofSeconds(1))) {
          if (record.value() != null) {
            // One parser per schema: each defines its own record names.
            String json = new String(record.value(), StandardCharsets.UTF_8);
            store.addSchema(new Schema.Parser().parse(json));
          }
        }
      }
    }
    return store;
  }

  /** The writer schema named by a single-object encoded value; null when not known. */
  private static Schema writerSchema(byte[] value, SchemaStore store) {
    if (value == null || value.length < 10 || value[0] != MAGIC[0] || value[1] != MAGIC[1]) {
      throw new IllegalArgumentException("not Avro single-object encoding");
    }
    long fingerprint = ByteBuffer.wrap(value, 2, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    return store.findByFingerprint(fingerprint);
  }

  private static GenericRecord decode(byte[] value, Schema writer, GenericData model)
      throws IOException {
    GenericDatumReader<GenericRecord> reader = new GenericDatumReader<>(writer, writer, model);
    return reader.read(null, DecoderFactory.get().binaryDecoder(value, 10, value.length - 10, null));
  }

  private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
    Header header = record.headers().lastHeader(name);
    return header == null ? "-" : new String(header.value(), StandardCharsets.UTF_8);
  }
}
