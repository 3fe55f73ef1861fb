"""The demo report for people: a console rendering (rich) and a self-contained HTML page with
a flow picture (inline SVG, no external assets). Pure: report in, text out."""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from govbus_devtools.demo.report import DeliverySeen, DemoReport, EventOutcome

CHANNELS = {
    "outbox": "PostgreSQL outbox + relay",
    "sdk": "publisher SDK",
    "http": "HTTP ingest (gateway)",
    "legacy": "a legacy producer (no SDK)",
}


def _value(value: Any) -> str:
    return "null" if value is None else str(value)


def _rule(rule: str) -> str:
    return "" if rule in ("", "clear") else rule


def _headline(event: EventOutcome) -> str:
    if event.outcome == "dead_letter":
        verdict = f"dead-lettered: {event.reason}"
    elif event.outcome == "missing":
        verdict = "NO OUTCOME (lost?)"
    else:
        verdict = f"delivered to {len(event.deliveries)}"
    extra = (
        f", {event.duplicates} duplicate(s) counted, not redelivered" if event.duplicates else ""
    )
    return f"{verdict}{extra}"


def console_renderables(report: DemoReport) -> list[Any]:
    out: list[Any] = []
    for key, title in report.scenarios.items():
        out.append(Text(f"\n{title}", style="bold underline"))
        for event in (e for e in report.events if e.scenario == key):
            good = event.outcome == event.expected
            mark = Text("✓ " if good else "✗ ", style="green" if good else "bold red")
            out.append(
                Text.assemble(
                    mark,
                    (event.title, "bold"),
                    f" — {event.type} from {event.source} via {CHANNELS[event.channel]}",
                )
            )
            correction = f"  corrects {event.corrects}" if event.corrects else ""
            out.append(
                Text(
                    f"   event {event.event_id}  trace {event.trace_id or '-'}{correction}\n"
                    f"   {_headline(event)}",
                    style="dim" if good else "red",
                )
            )
            if event.deliveries:
                out.append(_deliveries_table(event.deliveries))
    out.append(Text("\nAccess checks (tried for real)", style="bold underline"))
    for check in report.access:
        mark = Text("✓ " if check.ok else "✗ ", style="green" if check.ok else "bold red")
        out.append(
            Text.assemble(
                mark,
                f"{check.who}: {check.attempt} → {check.outcome} ({check.answer})",
                (f" {check.detail}" if check.detail else "", "dim"),
            )
        )
    out += _federation_renderables(report.federation)
    out += _trust_renderables(report.trust)
    for problem in report.problems:
        out.append(Text(f"✗ {problem}", style="bold red"))
    totals = report.totals
    out.append(
        Text(
            f"\n{totals['published']} events published, {totals['delivered']} deliveries read "
            f"back through the gateway, {totals['duplicate']} duplicate(s), "
            f"{totals['dead_letter']} dead letter(s), {totals['missing']} without outcome; "
            f"{totals['access_checks'] - totals['access_checks_failed']}/"
            f"{totals['access_checks']} access checks as expected.\n"
            f"Setup {report.setup_s:.1f}s, scenarios {report.scenarios_s:.1f}s "
            "(publish → every department has read its deliveries).",
            style="bold" if report.ok else "bold red",
        )
    )
    return out


def _crossing_line(event: dict[str, Any], federation: dict[str, Any]) -> str:
    """One relayed event, in words: its ids on both buses and its trace."""
    return (
        f"event {event['event_id_in_a']} on this bus, delivered to {federation['peer_in_a']}, "
        f"became event {event['event_id_in_b']} from {event['source_in_b']} on province B's "
        f"bus; trace {event['trace_id_in_b'] or '-'} on both"
    )


def _federation_renderables(federation: dict[str, Any]) -> list[Any]:
    if not federation:
        return []
    out: list[Any] = [
        Text(
            "\nCross-province (跨省通办): province B's own bus, federated by the bridge",
            style="bold underline",
        ),
        Text(
            f"  province B's policy: {federation['policy_b']} plus this bus's subscription for "
            f"{federation['peer_in_a']} as its inbound agreement; the bridge relayed "
            f"{federation['bridge']['relayed']} event(s), "
            f"{federation['bridge']['retried_failures']} retried failure(s)",
            style="dim",
        ),
    ]
    for event in federation["events"]:
        good = event["outcome_in_b"] == "delivered"
        mark = Text("✓ " if good else "✗ ", style="green" if good else "bold red")
        out.append(Text.assemble(mark, (event["step"], "bold"), " read in province B"))
        out.append(Text(f"   {_crossing_line(event, federation)}", style="dim"))
        deliveries = [DeliverySeen.from_dict(d) for d in event["deliveries"]]
        if deliveries:
            out.append(_deliveries_table(deliveries))
    return out


def _trust_renderables(trust: dict[str, Any]) -> list[Any]:
    if not trust:
        return []
    out: list[Any] = [
        Text("\nWhat the citizen can see: disclosure reports", style="bold underline")
    ]
    for person, rows in trust["disclosures"].items():
        table = Table(title=f"{person}: {len(rows)} deliveries of their data", title_justify="left")
        for column in ("to", "event", "fields [mask]", "why", "read"):
            table.add_column(column, overflow="fold")
        for d in rows:
            fields = ", ".join(
                k + ("" if r == "clear" else f" [{r}]") for k, r in d["fields"].items()
            )
            event = d["event_type"].rsplit(".", 1)[1] + (
                f" ({d['amendment']})" if d["amendment"] else ""
            )
            table.add_row(d["recipient"], event, fields, d["purpose"], "yes" if d["read"] else "no")
        out.append(table)
    out.append(Text("Licence checks by a relying department (tax)", style="bold underline"))
    for check in trust["licence_checks"]:
        out.append(Text(f"  {check['licence']}: {check['status']}  ({check['licence_id']})"))
    c = trust["corrections"]
    out.append(Text("Correction follow-up", style="bold underline"))
    out.append(
        Text(
            f"  awaiting acknowledgement: {', '.join(c['pending_before']) or '-'}; "
            f"{c['acknowledged_by']} acknowledged; "
            f"still pending: {', '.join(c['pending_after']) or '-'}"
        )
    )
    return out


def _deliveries_table(deliveries: list[DeliverySeen]) -> Table:
    table = Table(show_header=True, header_style="bold", padding=(0, 1), expand=False)
    table.add_column("to", max_width=26)
    table.add_column("fields as received [masking]", overflow="fold")
    table.add_column("legal basis · purpose", max_width=30)
    table.add_column("ms to\nbus/read", justify="right")
    for d in deliveries:
        fields = Text()
        for name, seen in d.fields.items():
            rule = _rule(seen.rule)
            fields.append(f"{name}=", style="dim")
            fields.append(_value(seen.value))
            if rule:
                fields.append(f" [{rule}]", style="yellow")
            fields.append("\n")
        who = Text(f"{d.subscriber}\n", style="bold")
        who.append(d.subscription, style="dim")
        if d.corrects:
            who.append(f"\ncorrects {d.corrects[:8]}…", style="magenta")
        table.add_row(
            who,
            fields,
            Text(f"{d.legal_basis}\n", style="") + Text(d.purpose, style="dim"),
            f"{d.delivered_ms:.0f}\n{d.read_ms:.0f}",
        )
    return table


def console_group(report: DemoReport) -> Group:
    return Group(*console_renderables(report))


# ---------------------------------------------------------------------------- HTML


def flow_svg(report: DemoReport) -> str:
    """Publishers (with their adapter) → the bus → subscribing departments, edge widths by
    count; dead letters and duplicates as their own sinks."""
    sources = Counter(f"{e.source}|{CHANNELS[e.channel]}" for e in report.events)
    subscribers = Counter(d.subscriber for e in report.events for d in e.deliveries)
    sinks = {
        "dead letter": sum(e.outcome == "dead_letter" for e in report.events),
        "duplicates (counted)": sum(e.duplicates for e in report.events),
    }
    rows = max(len(sources), len(subscribers) + len(sinks), 3)
    row_h, width = 46, 980
    height = rows * row_h + 40
    bus_x, bus_w = 400, 180
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="13">',
        f'<rect x="{bus_x}" y="20" width="{bus_w}" height="{height - 40}" rx="10" '
        'fill="#e8f0fe" stroke="#3367d6"/>',
        f'<text x="{bus_x + bus_w / 2}" y="{height / 2 - 20}" text-anchor="middle" '
        'font-weight="bold">govbus</text>',
    ]
    for i, line in enumerate(("validate · dedupe", "route by policy", "project · mask", "audit")):
        parts.append(
            f'<text x="{bus_x + bus_w / 2}" y="{height / 2 + i * 16}" text-anchor="middle" '
            f'fill="#555">{line}</text>'
        )

    def node(x: int, y: float, label: str, sub: str, color: str) -> None:
        parts.append(
            f'<rect x="{x}" y="{y - 16}" width="220" height="34" rx="6" fill="{color}" '
            'stroke="#888"/>'
        )
        parts.append(f'<text x="{x + 8}" y="{y - 1}">{html.escape(label)}</text>')
        parts.append(
            f'<text x="{x + 8}" y="{y + 13}" font-size="11" fill="#555">{html.escape(sub)}</text>'
        )

    def edge(x1: int, y1: float, x2: int, y2: float, *, count: int, color: str) -> None:
        mid = (x1 + x2) / 2
        parts.append(
            f'<path d="M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}" fill="none" '
            f'stroke="{color}" stroke-width="{1 + min(count, 8)}" opacity="0.6"/>'
        )
        parts.append(
            f'<text x="{mid}" y="{(y1 + y2) / 2 - 4}" font-size="11" fill="#333">{count}</text>'
        )

    for i, (name, count) in enumerate(sorted(sources.items())):
        source, channel = name.split("|", 1)
        y = 40 + i * row_h
        node(40, y, source, channel, "#fff8e1")
        edge(260, y, bus_x, height / 2, count=count, color="#f9a825")
    targets = [(s, c, "#e8f5e9", "#2e7d32") for s, c in sorted(subscribers.items())]
    targets += [(s, c, "#fdecea", "#c62828") for s, c in sinks.items()]
    for i, (name, count, fill, stroke) in enumerate(targets):
        y = 40 + i * row_h
        node(720, y, name, f"{count} received" if fill == "#e8f5e9" else f"{count}", fill)
        if count:
            edge(bus_x + bus_w, height / 2, 720, y, count=count, color=stroke)
    parts.append("</svg>")
    return "\n".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
h1{margin-bottom:0}.sub{color:#666;margin-top:.2rem}
table{border-collapse:collapse;margin:.5rem 0 1.2rem 0;font-size:14px}
td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;text-align:left}
.rule{color:#b26a00;font-size:12px}.ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}
.dim{color:#777;font-size:12px}code{font-size:12px}
"""


def _event_html(event: EventOutcome) -> str:
    good = event.outcome == event.expected
    mark = '<span class="ok">✓</span>' if good else '<span class="bad">✗</span>'
    head = (
        f"<h3>{mark} {html.escape(event.title)}</h3><p>{html.escape(event.type)} from "
        f"<b>{html.escape(event.source)}</b> via {html.escape(CHANNELS[event.channel])}<br>"
        f'<span class="dim">event <code>{event.event_id}</code> · trace '
        f"<code>{event.trace_id or '-'}</code>"
        + (f" · corrects <code>{event.corrects}</code>" if event.corrects else "")
        + f"</span><br>{html.escape(_headline(event))}</p>"
    )
    return head + _deliveries_html(event.deliveries)


def _deliveries_html(deliveries: list[DeliverySeen]) -> str:
    if not deliveries:
        return ""
    rows = []
    for d in deliveries:
        fields = "<br>".join(
            f"{html.escape(name)} = {html.escape(_value(seen.value))}"
            + (
                f' <span class="rule">[{html.escape(_rule(seen.rule))}]</span>'
                if _rule(seen.rule)
                else ""
            )
            for name, seen in d.fields.items()
        )
        rows.append(
            f"<tr><td><b>{html.escape(d.subscriber)}</b><br>"
            f'<span class="dim">{html.escape(d.subscription)}</span></td><td>{fields}</td>'
            f"<td>{html.escape(d.legal_basis)}<br>"
            f'<span class="dim">{html.escape(d.purpose)}</span></td>'
            f"<td>{d.delivered_ms:.0f} / {d.read_ms:.0f}</td></tr>"
        )
    return (
        "<table><tr><th>to</th><th>fields as received [masking]</th>"
        "<th>legal basis · purpose</th><th>ms to bus / read</th></tr>" + "".join(rows) + "</table>"
    )


def _federation_html(federation: dict[str, Any]) -> str:
    if not federation:
        return ""
    parts = [
        "<h2>Cross-province (跨省通办): province B's own bus</h2>",
        f"<p>province B's policy <code>{html.escape(federation['policy_b'])}</code> plus this "
        f"bus's subscription for {html.escape(federation['peer_in_a'])} as its inbound "
        f"agreement · the bridge relayed {federation['bridge']['relayed']} event(s)</p>",
    ]
    for event in federation["events"]:
        good = event["outcome_in_b"] == "delivered"
        mark = '<span class="ok">✓</span>' if good else '<span class="bad">✗</span>'
        parts.append(
            f"<h3>{mark} {html.escape(event['step'])} read in province B</h3>"
            f'<p class="dim">{html.escape(_crossing_line(event, federation))}</p>'
        )
        parts.append(_deliveries_html([DeliverySeen.from_dict(d) for d in event["deliveries"]]))
    return "".join(parts)


def _trust_html(trust: dict[str, Any]) -> str:
    if not trust:
        return ""
    parts = ["<h2>Disclosure reports (what the citizen portal shows)</h2>"]
    for person, rows in trust["disclosures"].items():
        parts.append(f"<h3>{html.escape(person)}: {len(rows)} deliveries</h3><table>")
        parts.append(
            "<tr><th>to</th><th>event</th><th>fields [mask]</th>"
            "<th>legal basis · purpose</th><th>read</th></tr>"
        )
        for d in rows:
            fields = ", ".join(
                html.escape(k)
                + ("" if r == "clear" else f' <span class="rule">[{html.escape(r)}]</span>')
                for k, r in d["fields"].items()
            )
            parts.append(
                f"<tr><td>{html.escape(d['recipient'])}</td><td>{html.escape(d['event_type'])}"
                f"{' (' + html.escape(d['amendment']) + ')' if d['amendment'] else ''}</td>"
                f"<td>{fields}</td><td>{html.escape(d['legal_basis'])}<br>"
                f'<span class="dim">{html.escape(d["purpose"])}</span></td>'
                f"<td>{'yes' if d['read'] else 'no'}</td></tr>"
            )
        parts.append("</table>")
    parts.append(
        "<h2>Licence checks</h2><table><tr><th>licence</th><th>id</th><th>status</th></tr>"
    )
    for check in trust["licence_checks"]:
        parts.append(
            f"<tr><td>{html.escape(check['licence'])}</td><td><code>{html.escape(check['licence_id'])}"
            f"</code></td><td>{html.escape(check['status'])}</td></tr>"
        )
    c = trust["corrections"]
    parts.append(
        "</table><h2>Correction follow-up</h2>"
        f"<p>awaiting: {html.escape(', '.join(c['pending_before']))}; acknowledged by "
        f"{html.escape(c['acknowledged_by'])}; still pending: "
        f"{html.escape(', '.join(c['pending_after']))}</p>"
    )
    return "".join(parts)


def html_report(report: DemoReport) -> str:
    totals = report.totals
    body = [
        "<h1>govbus demo</h1>",
        f'<p class="sub">run {html.escape(report.started_at)} · policy '
        f"<code>{html.escape(report.policy)}</code> · setup {report.setup_s:.1f}s · "
        f"scenarios {report.scenarios_s:.1f}s</p>",
        "<h2>Flow</h2>",
        flow_svg(report),
        "<h2>Totals</h2><table>"
        + "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in totals.items())
        + "</table>",
    ]
    for key, title in report.scenarios.items():
        body.append(f"<h2>{html.escape(title)}</h2>")
        body += [_event_html(e) for e in report.events if e.scenario == key]
    body.append(
        "<h2>Access checks</h2><table><tr><th>who</th><th>tried</th><th>expected</th>"
        "<th>outcome</th><th>answer</th></tr>"
    )
    for check in report.access:
        css = "ok" if check.ok else "bad"
        body.append(
            f"<tr><td>{html.escape(check.who)}</td><td>{html.escape(check.attempt)}</td>"
            f'<td>{check.expected}</td><td class="{css}">{check.outcome}</td>'
            f'<td>{html.escape(check.answer)}<br><span class="dim">'
            f"{html.escape(check.detail)}</span></td></tr>"
        )
    body.append("</table>")
    body.append(_federation_html(report.federation))
    body.append(_trust_html(report.trust))
    # Raw text inside <script>: only "</" could end it early.
    data = json.dumps(report.to_dict(), ensure_ascii=False).replace("</", "<\\/")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>govbus demo</title><style>{_CSS}</style></head><body>"
        + "\n".join(body)
        + f'<script type="application/json" id="report">{data}</script></body></html>'
    )
