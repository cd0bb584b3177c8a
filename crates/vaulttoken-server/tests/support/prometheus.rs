//! A reader of the Prometheus text format (0.0.4), as a scraper reads it:
//! `# HELP` and `# TYPE` lines, then one sample a line, `name{label="value",…}
//! value`, label values escaped (`\\`, `\"`, `\n`). `prometheus-client`
//! writes the format but cannot read it. Declared next to
//! `support/process.rs` (whose server it scrapes).

use std::collections::BTreeMap;

use crate::process::ServerProcess;

/// One sample: its name, its labels (sorted by name) and its value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: f64,
}

/// What one scrape answered.
#[derive(Debug, Clone)]
pub(crate) struct Scrape {
    pub(crate) samples: Vec<Sample>,
    /// Each family's `# TYPE`.
    pub(crate) types: BTreeMap<String, String>,
}

impl Scrape {
    /// Reads `text`; panics on a line that is not the format, naming it.
    pub(crate) fn parse(text: &str) -> Self {
        let mut samples = Vec::new();
        let mut types = BTreeMap::new();
        for line in text.lines() {
            if line.is_empty() || line.starts_with("# HELP ") {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
                types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            assert!(!line.starts_with('#'), "an unknown comment: {line}");
            samples.push(sample(line));
        }
        Self { samples, types }
    }

    /// The value of the sample `name` with exactly `labels`, if there is one.
    pub(crate) fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|sample| sample.name == name && sample.labels == wanted)
            .map(|sample| sample.value)
    }

    /// The value of the sample `name` with exactly `labels`; panics if
    /// there is none.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in {:#?}", self.samples))
    }

    /// The sum of every sample `name` whose labels include `labels`.
    pub(crate) fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|sample| {
                sample.name == name
                    && labels.iter().all(|(key, value)| {
                        sample.labels.get(*key).map(String::as_str) == Some(value)
                    })
            })
            .map(|sample| sample.value)
            .sum()
    }
}

/// One sample line.
fn sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
        "a bad name: {line}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let end;
        loop {
            // A label name up to `=`, or the closing brace.
            let (start, first) = chars.next().unwrap_or_else(|| panic!("unclosed: {line}"));
            if first == '}' {
                end = start + 1;
                break;
            }
            let mut key = String::from(first);
            for (_, c) in chars.by_ref() {
                if c == '=' {
                    break;
                }
                key.push(c);
            }
            assert_eq!(chars.next().map(|(_, c)| c), Some('"'), "{line}");
            let mut value = String::new();
            loop {
                match chars
                    .next()
                    .unwrap_or_else(|| panic!("unclosed value: {line}"))
                {
                    (_, '"') => break,
                    (_, '\\') => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        other => panic!("a bad escape {other:?}: {line}"),
                    },
                    (_, c) => value.push(c),
                }
            }
            assert!(labels.insert(key, value).is_none(), "a label twice: {line}");
            match chars.next() {
                Some((_, ',')) => {}
                Some((index, '}')) => {
                    end = index + 1;
                    break;
                }
                other => panic!("{other:?} after a label: {line}"),
            }
        }
        rest = &inner[end..];
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no value: {line}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}")),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

/// `GET /metrics` of `server`: the answer must be 200 in the text format.
pub(crate) fn scrape(server: &ServerProcess) -> Scrape {
    scrape_port(server.port())
}

/// `GET /metrics` on a loopback `port`.
pub(crate) fn scrape_port(port: u16) -> Scrape {
    let answer = crate::process::raw_request_at(port, "GET", "/metrics", &[]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    Scrape::parse(&answer.body)
}

#[test]
fn the_reader_reads_names_labels_escapes_and_values() {
    let text = "# HELP a_total A.\n# TYPE a_total counter\na_total 3\n\
                b{x=\"1\",y=\"q\\\"uote\\\\back\\nline\"} 2.5\nc{} NaN\nd{le=\"+Inf\"} +Inf\n";
    let scrape = Scrape::parse(text);
    assert_eq!(scrape.types["a_total"], "counter");
    assert_eq!(scrape.value("a_total", &[]), 3.0);
    assert_eq!(
        scrape.value("b", &[("x", "1"), ("y", "q\"uote\\back\nline")]),
        2.5
    );
    assert!(scrape.value("c", &[]).is_nan());
    assert_eq!(scrape.value("d", &[("le", "+Inf")]), f64::INFINITY);
    assert_eq!(scrape.get("b", &[("x", "1")]), None);
    assert_eq!(scrape.sum("b", &[("x", "1")]), 2.5);
}
