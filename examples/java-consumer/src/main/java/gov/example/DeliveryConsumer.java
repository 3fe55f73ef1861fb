package gov.example;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Reads a department's delivery topic, govbus.deliver.&lt;department&gt;, with its own SCRAM
 * user (`govbus acl user &lt;department&gt;`; `govbus acl sync` grants the read). Values are
 * Avro single-object encoded (0xC3 0x01, an 8-byte schema fingerprint, the body); the schemas
 * are the records of the topic govbus.schemas, keyed by the fingerprint in hex. The
 * CloudEvents attributes are headers: ce_id (your delivery id), ce_type, ce_govbuscorrects
 * (the delivery id a correction or retraction amends) and ce_govbusretract.
 *
 * <p>Arguments: bootstrap department password [max records]. Prints one line per record:
 * "ce_id ce_type amends value-bytes".
 */
public final class DeliveryConsumer {
  private DeliveryConsumer() {}

  public static void main(String[] args) {
    String bootstrap = args[0];
    String department = args[1];
    String password = args[2];
    long max = args.length > 3 ? Long.parseLong(args[3]) : Long.MAX_VALUE;

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
    config.put(ConsumerConfig.GROUP_ID_CONFIG, department + ".java-example"); // '<dept>.' groups
    config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    config.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    config.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);

    long seen = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config)) {
      consumer.subscribe(List.of("govbus.deliver." + department));
      while (seen < max) {
        for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofSeconds(2))) {
          System.out.println(
              header(record, "ce_id")
                  + " "
                  + header(record, "ce_type")
                  + " "
                  + header(record, "ce_govbuscorrects")
                  + " "
                  + (record.value() == null ? 0 : record.value().length));
          seen++;
        }
        consumer.commitSync(); // after handling what was polled
      }
    }
  }

  private static String header(ConsumerRecord<byte[], byte[]> record, String name) {
    Header header = record.headers().lastHeader(name);
    return header == null ? "-" : new String(header.value(), StandardCharsets.UTF_8);
  }
}
