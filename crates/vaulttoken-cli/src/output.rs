//! What a command prints on success: text for people, JSON for scripts.

use serde_json::Value;
use zeroize::Zeroizing;

/// A command's result. The text may hold a secret asked for explicitly
/// (`--out -`), so it lives in wiped memory.
#[derive(Debug)]
pub(crate) struct Report {
    text: Zeroizing<String>,
    json: Value,
}

impl Report {
    pub(crate) fn new(text: impl Into<String>, json: Value) -> Self {
        Self {
            text: Zeroizing::new(text.into()),
            json,
        }
    }

    /// A report whose text holds a secret.
    pub(crate) fn secret(text: Zeroizing<String>, json: Value) -> Self {
        Self { text, json }
    }

    /// What to print on stdout: the text, or the JSON on one line.
    pub(crate) fn render(&self, json: bool) -> Zeroizing<String> {
        if json {
            let mut line = Zeroizing::new(self.json.to_string());
            line.push('\n');
            line
        } else {
            let mut text = self.text.clone();
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_text_or_one_json_line() {
        let report = Report::new("hello", json!({"a": 1}));
        assert_eq!(report.render(false).as_str(), "hello\n");
        assert_eq!(report.render(true).as_str(), "{\"a\":1}\n");
        assert_eq!(Report::new("", json!(null)).render(false).as_str(), "");
    }
}
