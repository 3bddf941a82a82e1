//! `JSON.parse` error messages as V8 (Node 24) words them.
//!
//! The real gateway answers a malformed body with HTTP 400 and V8's `SyntaxError` message, e.g.
//! ``Expected property name or '}' in JSON at position 1 (line 1 column 2)`` (docs/gateway.md,
//! "Pre-stream errors"). This is a syntax-only re-implementation of V8's JSON parser error reporting:
//! positions are UTF-16 offsets, lines/columns count `\n`, `\r` and `\r\n`. The message templates were
//! checked against Node's output; Node ≥ 22 appends the "(line … column …)" part to every positional
//! message.

/// The V8 message for a body that fails `JSON.parse`, or `None` when it parses.
pub(crate) fn parse_error(source: &str) -> Option<String> {
    let units: Vec<u16> = source.encode_utf16().collect();
    let mut parser = Parser {
        src: &units,
        pos: 0,
    };
    parser.document().err().map(|e| parser.message(e))
}

/// What went wrong, and where (the parser's position when it gave up).
#[derive(Debug, Clone, Copy)]
enum Error {
    /// A value was expected but something else came (V8's generic "unexpected token").
    Token,
    /// A specific expectation failed.
    Expected(&'static str),
}

struct Parser<'a> {
    src: &'a [u16],
    pos: usize,
}

const EXPECTED_PROP_OR_RBRACE: &str = "Expected property name or '}'";
const EXPECTED_COMMA_OR_RBRACE: &str = "Expected ',' or '}' after property value";
const EXPECTED_COMMA_OR_RBRACK: &str = "Expected ',' or ']' after array element";
const EXPECTED_COLON: &str = "Expected ':' after property name";
const EXPECTED_QUOTED_NAME: &str = "Expected double-quoted property name";
const TRAILING: &str = "Unexpected non-whitespace character after JSON";
const UNTERMINATED_STRING: &str = "Unterminated string";
const BAD_ESCAPE: &str = "Bad escaped character";
const BAD_UNICODE: &str = "Bad Unicode escape";
const BAD_CONTROL: &str = "Bad control character in string literal";
const NO_NUMBER_AFTER_MINUS: &str = "No number after minus sign";
const UNTERMINATED_FRACTION: &str = "Unterminated fractional number";
const EXPONENT_MISSING: &str = "Exponent part is missing a number";
const UNEXPECTED_NUMBER: &str = "Unexpected number";
/// Stands for "end of input where more was needed" inside a string escape.
const EOS: &str = "";

type Step = Result<(), Error>;

impl Parser<'_> {
    fn peek(&self) -> Option<u16> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(0x20 | 0x09 | 0x0A | 0x0D)) {
            self.pos += 1;
        }
    }

    fn document(&mut self) -> Step {
        self.value()?;
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err(Error::Expected(TRAILING));
        }
        Ok(())
    }

    fn value(&mut self) -> Step {
        self.skip_ws();
        let ascii = self.peek().and_then(|c| u8::try_from(c).ok());
        match ascii {
            Some(b'"') => self.string(),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            _ => Err(Error::Token),
        }
    }

    fn object(&mut self) -> Step {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(u16::from(b'}')) {
            self.pos += 1;
            return Ok(());
        }
        let mut expected_name = EXPECTED_PROP_OR_RBRACE;
        loop {
            if self.peek() != Some(u16::from(b'"')) {
                return Err(Error::Expected(expected_name));
            }
            self.string()?;
            self.skip_ws();
            if self.peek() != Some(u16::from(b':')) {
                return Err(Error::Expected(EXPECTED_COLON));
            }
            self.pos += 1;
            self.value()?;
            self.skip_ws();
            match self.peek() {
                Some(c) if c == u16::from(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                    expected_name = EXPECTED_QUOTED_NAME;
                }
                Some(c) if c == u16::from(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Error::Expected(EXPECTED_COMMA_OR_RBRACE)),
            }
        }
    }

    fn array(&mut self) -> Step {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(u16::from(b']')) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value()?;
            self.skip_ws();
            match self.peek() {
                Some(c) if c == u16::from(b',') => self.pos += 1,
                Some(c) if c == u16::from(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(Error::Expected(EXPECTED_COMMA_OR_RBRACK)),
            }
        }
    }

    fn string(&mut self) -> Step {
        self.pos += 1;
        loop {
            let Some(c) = self.peek() else {
                return Err(Error::Expected(UNTERMINATED_STRING));
            };
            match c {
                0x22 => {
                    self.pos += 1;
                    return Ok(());
                }
                0x5C => {
                    self.pos += 1;
                    match self.peek() {
                        None => return Err(Error::Expected(EOS)),
                        Some(0x22 | 0x5C | 0x2F | 0x62 | 0x66 | 0x6E | 0x72 | 0x74) => {
                            self.pos += 1
                        }
                        Some(0x75) => {
                            for _ in 0..4 {
                                self.pos += 1;
                                if !self
                                    .peek()
                                    .and_then(|h| u8::try_from(h).ok())
                                    .is_some_and(|h| h.is_ascii_hexdigit())
                                {
                                    return Err(Error::Expected(BAD_UNICODE));
                                }
                            }
                            self.pos += 1;
                        }
                        Some(_) => return Err(Error::Expected(BAD_ESCAPE)),
                    }
                }
                c if c < 0x20 => return Err(Error::Expected(BAD_CONTROL)),
                _ => self.pos += 1,
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|c| (0x30..=0x39).contains(&c)) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Step {
        let is_digit = |c: Option<u16>| c.is_some_and(|c| (0x30..=0x39).contains(&c));
        if self.peek() == Some(u16::from(b'-')) {
            self.pos += 1;
            if !is_digit(self.peek()) {
                return Err(Error::Expected(NO_NUMBER_AFTER_MINUS));
            }
        }
        if self.peek() == Some(u16::from(b'0')) {
            self.pos += 1;
            if is_digit(self.peek()) {
                return Err(Error::Expected(UNEXPECTED_NUMBER));
            }
        } else {
            self.digits();
        }
        if self.peek() == Some(u16::from(b'.')) {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(Error::Expected(UNTERMINATED_FRACTION));
            }
        }
        if matches!(self.peek(), Some(0x65 | 0x45)) {
            self.pos += 1;
            if matches!(self.peek(), Some(0x2B | 0x2D)) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(Error::Expected(EXPONENT_MISSING));
            }
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Step {
        for b in word.bytes() {
            if self.peek() != Some(u16::from(b)) {
                return Err(Error::Token);
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn message(&self, error: Error) -> String {
        let at_end = self.pos >= self.src.len();
        match error {
            Error::Expected(EOS) => "Unexpected end of JSON input".into(),
            // The one positional template without "in JSON".
            Error::Expected(TRAILING) => {
                format!("{TRAILING} at position {} {}", self.pos, self.line_column())
            }
            Error::Expected(what) => {
                format!(
                    "{what} in JSON at position {} {}",
                    self.pos,
                    self.line_column()
                )
            }
            Error::Token if at_end => "Unexpected end of JSON input".into(),
            Error::Token => self.unexpected_token(),
        }
    }

    /// `(line L column C)` of the current position.
    fn line_column(&self) -> String {
        let (mut line, mut line_start, mut i) = (1, 0, 0);
        while i < self.pos {
            if self.src[i] == 0x0D && i + 1 < self.pos && self.src[i + 1] == 0x0A {
                i += 1;
            }
            if matches!(self.src[i], 0x0A | 0x0D) {
                line += 1;
                line_start = i + 1;
            }
            i += 1;
        }
        format!("(line {line} column {})", 1 + self.pos - line_start)
    }

    /// V8's "Unexpected token" message, quoting the source or up to 10 units of context on each side.
    fn unexpected_token(&self) -> String {
        const CONTEXT: usize = 10;
        let text = |range: std::ops::Range<usize>| String::from_utf16_lossy(&self.src[range]);
        let whole = text(0..self.src.len());
        if ["undefined", "NaN", "Infinity", "[object Object]"].contains(&whole.as_str()) {
            return format!("\"{whole}\" is not valid JSON");
        }
        let token = char::decode_utf16(self.src[self.pos..].iter().copied())
            .next()
            .map(|c| c.map_or('\u{FFFD}', |c| c).to_string())
            .unwrap_or_default();
        let (len, pos) = (self.src.len(), self.pos);
        if len < CONTEXT * 2 + 1 {
            format!("Unexpected token '{token}', \"{whole}\" is not valid JSON")
        } else if pos < CONTEXT {
            format!(
                "Unexpected token '{token}', \"{}\"... is not valid JSON",
                text(0..pos + CONTEXT)
            )
        } else if pos < len - CONTEXT {
            format!(
                "Unexpected token '{token}', ...\"{}\"... is not valid JSON",
                text(pos - CONTEXT..pos + CONTEXT)
            )
        } else {
            format!(
                "Unexpected token '{token}', ...\"{}\" is not valid JSON",
                text(pos - CONTEXT..len)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_error;

    /// Expected messages are Node 20's output (V8 11) for the same inputs, with the
    /// "(line … column …)" suffix that Node 24 adds to positional messages.
    #[test]
    fn matches_v8_messages() {
        let cases: &[(&str, &str)] = &[
            ("", "Unexpected end of JSON input"),
            (
                "{",
                "Expected property name or '}' in JSON at position 1 (line 1 column 2)",
            ),
            (
                "{x",
                "Expected property name or '}' in JSON at position 1 (line 1 column 2)",
            ),
            ("{\"a\":", "Unexpected end of JSON input"),
            (
                "{\"a\":1",
                "Expected ',' or '}' after property value in JSON at position 6 (line 1 column 7)",
            ),
            (
                "{\"a\" 1}",
                "Expected ':' after property name in JSON at position 5 (line 1 column 6)",
            ),
            (
                "{\"a\":1,}",
                "Expected double-quoted property name in JSON at position 7 (line 1 column 8)",
            ),
            (
                "[1 2]",
                "Expected ',' or ']' after array element in JSON at position 3 (line 1 column 4)",
            ),
            ("[1,]", "Unexpected token ']', \"[1,]\" is not valid JSON"),
            (
                "{\"a\":1}x",
                "Unexpected non-whitespace character after JSON at position 7 (line 1 column 8)",
            ),
            (
                "\"abc",
                "Unterminated string in JSON at position 4 (line 1 column 5)",
            ),
            (
                "\"a\\x\"",
                "Bad escaped character in JSON at position 3 (line 1 column 4)",
            ),
            (
                "\"\\u12G4\"",
                "Bad Unicode escape in JSON at position 5 (line 1 column 6)",
            ),
            (
                "\"\\u12",
                "Bad Unicode escape in JSON at position 5 (line 1 column 6)",
            ),
            (
                "\"a\nb\"",
                "Bad control character in string literal in JSON at position 2 (line 1 column 3)",
            ),
            ("\"a\\", "Unexpected end of JSON input"),
            (
                "-a",
                "No number after minus sign in JSON at position 1 (line 1 column 2)",
            ),
            (
                "1.e",
                "Unterminated fractional number in JSON at position 2 (line 1 column 3)",
            ),
            (
                "1e+",
                "Exponent part is missing a number in JSON at position 3 (line 1 column 4)",
            ),
            (
                "[01]",
                "Unexpected number in JSON at position 2 (line 1 column 3)",
            ),
            ("tru", "Unexpected end of JSON input"),
            ("trux", "Unexpected token 'x', \"trux\" is not valid JSON"),
            ("NaN", "\"NaN\" is not valid JSON"),
            (
                "{\"a\":\"😀\"x}",
                "Expected ',' or '}' after property value in JSON at position 9 (line 1 column 10)",
            ),
            (
                "{\"model\":\"openclaw\",\"messages\":[}",
                "Unexpected token '}', ...\"essages\":[}\" is not valid JSON",
            ),
            (
                "{\"model\":\"openclaw\",\"messages\":[}]]]]]]]]]]]]]]]]]",
                "Unexpected token '}', ...\"essages\":[}]]]]]]]]]\"... is not valid JSON",
            ),
            (
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx}",
                "Unexpected token 'x', \"xxxxxxxxxx\"... is not valid JSON",
            ),
            (
                "{\r\n\"a\":1\r\n x}",
                "Expected ',' or '}' after property value in JSON at position 11 (line 3 column 2)",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(
                parse_error(input).as_deref(),
                Some(*expected),
                "input {input:?}"
            );
        }
        assert_eq!(
            parse_error(r#"{"a":[1,-2.5e+3,true,null,"\u00e9\n"]}"#),
            None
        );
    }
}
