//! The two log formats, text and JSON lines. Each line carries the time,
//! the level, the target and the event's fields, and, when a request's
//! work wrote it, the request's id, as `request{id=...}:` (text) or
//! `"span":{"id":...,"name":"request"}` and `"spans":[...]` (JSON), the
//! shapes the `tracing` span that used to carry it printed.

use super::request::current_request;
use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How each log line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    /// `TIME LEVEL [request{id=ID}: ]TARGET: FIELDS`, the level coloured
    /// when the writer takes ANSI escapes. Fields as `tracing` formats them.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields` (needs
    /// `tracing_subscriber`'s `JsonFields` as the field formatter),
    /// `target`, and `span` and `spans` for a request's lines.
    Json,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let request = current_request();
        match self {
            LineFormat::Text => {
                SystemTime.format_time(&mut writer)?;
                if writer.has_ansi_escapes() {
                    write!(
                        writer,
                        " {}{:>5}\x1b[0m ",
                        colour(meta.level()),
                        meta.level()
                    )?;
                } else {
                    write!(writer, " {:>5} ", meta.level())?;
                }
                if let Some(id) = request {
                    write!(writer, "request{{id={id}}}: ")?;
                }
                write!(writer, "{}: ", meta.target())?;
                ctx.format_fields(writer.by_ref(), event)?;
            }
            LineFormat::Json => {
                let mut time = String::new();
                SystemTime.format_time(&mut Writer::new(&mut time))?;
                write!(
                    writer,
                    "{{\"timestamp\":{},\"level\":\"{}\",\"fields\":",
                    quoted(&time),
                    meta.level()
                )?;
                ctx.format_fields(writer.by_ref(), event)?;
                write!(writer, ",\"target\":{}", quoted(meta.target()))?;
                if let Some(id) = request {
                    let span = format!("{{\"id\":{},\"name\":\"request\"}}", quoted(&id));
                    write!(writer, ",\"span\":{span},\"spans\":[{span}]")?;
                }
                writer.write_char('}')?;
            }
        }
        writeln!(writer)
    }
}

/// The ANSI colour of a level, as `tracing_subscriber` colours them.
fn colour(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        Level::DEBUG => "\x1b[34m",
        Level::TRACE => "\x1b[35m",
    }
}

/// `text` as a JSON string.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::request::within;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::fmt::format::JsonFields;

    /// Collects what the subscriber writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.0.lock().unwrap().clone())
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect()
        }
    }

    fn log_two_lines() {
        tracing::warn!(what = "a \"quoted\" value", "outside");
        within(&Arc::from("req-1"), || tracing::error!(count = 3, "inside"));
    }

    #[test]
    fn json_lines_are_json_and_name_the_request_inside_one() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .fmt_fields(JsonFields::new())
            .event_format(LineFormat::Json)
            .finish();
        tracing::subscriber::with_default(subscriber, log_two_lines);
        let lines: Vec<serde_json::Value> = out
            .lines()
            .iter()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["fields"]["message"], "outside");
        assert_eq!(lines[0]["fields"]["what"], "a \"quoted\" value");
        assert!(lines[0].get("span").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["fields"]["count"], 3);
        assert_eq!(lines[1]["span"]["id"], "req-1");
        assert_eq!(lines[1]["span"]["name"], "request");
        assert_eq!(lines[1]["spans"][0], lines[1]["span"]);
        assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[1]["target"], module_path!());
    }

    #[test]
    fn text_lines_name_the_request_inside_one() {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(out.clone())
            .with_ansi(false)
            .event_format(LineFormat::Text)
            .finish();
        tracing::subscriber::with_default(subscriber, log_two_lines);
        let lines = out.lines();
        assert_eq!(lines.len(), 2);
        let expected = format!(
            " WARN {}: outside what=\"a \\\"quoted\\\" value\"",
            module_path!()
        );
        assert!(lines[0].ends_with(&expected), "{}", lines[0]);
        let expected = format!(
            "ERROR request{{id=req-1}}: {}: inside count=3",
            module_path!()
        );
        assert!(lines[1].ends_with(&expected), "{}", lines[1]);
    }
}
