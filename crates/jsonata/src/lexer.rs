//! Tokenizer, pulled one token at a time by the parser: whether `/` starts a
//! regular expression or is division depends on where the parser is (an
//! operand is expected, or an operator), as in jsonata-js.

use super::error::JsonataError;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An operator or punctuation; also the keywords `and`, `or`, `in`.
    Op(&'static str),
    Str(String),
    Num(f64),
    /// A field name, plain or `` `quoted` ``.
    Name(String),
    /// `$name` (the name without `$`; `""` for `$`, `"$"` for `$$`).
    Var(String),
    Bool(bool),
    Null,
    Regex {
        pattern: String,
        flags: String,
    },
    End,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    /// Byte offsets of the token in the source.
    pub start: usize,
    pub end: usize,
}

const TWO_CHAR_OPS: [&str; 9] = ["..", ":=", "!=", ">=", "<=", "**", "~>", "?:", "??"];
const ONE_CHAR_OPS: &str = ".[]{}(),@#;:?+-*/%|=<>^&!~";

fn one_char_op(c: char) -> Option<&'static str> {
    let i = ONE_CHAR_OPS.find(c)?;
    Some(&ONE_CHAR_OPS[i..i + c.len_utf8()])
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer { src, pos: 0 }
    }

    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.src[self.pos..].chars();
        it.next();
        it.next()
    }

    /// The next token; `infix` is true when an operator is expected (so `/`
    /// divides rather than opening a regular expression).
    pub fn next(&mut self, infix: bool) -> Result<Token, JsonataError> {
        self.skip_space_and_comments()?;
        let start = self.pos;
        let tok = self.scan(infix, start)?;
        Ok(Token { tok, start, end: self.pos })
    }

    fn skip_space_and_comments(&mut self) -> Result<(), JsonataError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.pos += c.len_utf8(),
                Some('/') if self.peek2() == Some('*') => {
                    let start = self.pos;
                    match self.src[self.pos + 2..].find("*/") {
                        Some(i) => self.pos += 2 + i + 2,
                        None => return Err(JsonataError::new("S0106", "Comment has no closing tag").at(start)),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn scan(&mut self, infix: bool, start: usize) -> Result<Tok, JsonataError> {
        let Some(c) = self.peek() else {
            return Ok(Tok::End);
        };
        if c == '/' && !infix {
            self.pos += 1;
            return self.scan_regex(start);
        }
        let rest = &self.src[self.pos..];
        if let Some(op) = TWO_CHAR_OPS.iter().find(|op| rest.starts_with(**op)) {
            self.pos += 2;
            return Ok(Tok::Op(op));
        }
        if let Some(op) = one_char_op(c) {
            self.pos += 1;
            return Ok(Tok::Op(op));
        }
        if c == '"' || c == '\'' {
            self.pos += 1;
            return self.scan_string(c, start);
        }
        if c.is_ascii_digit() {
            return self.scan_number(start);
        }
        if c == '`' {
            self.pos += 1;
            return match self.src[self.pos..].find('`') {
                Some(i) => {
                    let name = self.src[self.pos..self.pos + i].to_string();
                    self.pos += i + 1;
                    Ok(Tok::Name(name))
                }
                None => Err(JsonataError::new("S0105", "Quoted property name must be terminated with a backquote (`)").at(start)),
            };
        }
        // A name or variable runs to the next whitespace or operator character.
        let len = rest.find(|ch: char| ch.is_whitespace() || one_char_op(ch).is_some()).unwrap_or(rest.len());
        let word = &rest[..len];
        self.pos += len;
        if let Some(var) = word.strip_prefix('$') {
            return Ok(Tok::Var(var.to_string()));
        }
        Ok(match word {
            "and" => Tok::Op("and"),
            "or" => Tok::Op("or"),
            "in" => Tok::Op("in"),
            "true" => Tok::Bool(true),
            "false" => Tok::Bool(false),
            "null" => Tok::Null,
            _ => Tok::Name(word.to_string()),
        })
    }

    fn scan_string(&mut self, quote: char, start: usize) -> Result<Tok, JsonataError> {
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c == quote {
                self.pos += i + 1;
                return Ok(Tok::Str(out));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let esc_pos = self.pos + i;
            match chars.next().map(|(_, e)| e) {
                Some('"') => out.push('"'),
                Some('\\') => out.push('\\'),
                Some('/') => out.push('/'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some('u') => {
                    let hi = hex4(&mut chars).ok_or_else(|| bad_unicode(esc_pos))?;
                    let code = if (0xD800..0xDC00).contains(&hi) {
                        // A surrogate pair spells one character as two escapes.
                        let save = chars.clone();
                        let lo = match (chars.next(), chars.next()) {
                            (Some((_, '\\')), Some((_, 'u'))) => hex4(&mut chars).filter(|lo| (0xDC00..0xE000).contains(lo)),
                            _ => None,
                        };
                        match lo {
                            Some(lo) => 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00),
                            None => {
                                chars = save;
                                0xFFFD
                            }
                        }
                    } else {
                        hi
                    };
                    out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                }
                Some(other) => return Err(JsonataError::new("S0103", format!("Unsupported escape sequence: \\{other}")).at(esc_pos)),
                None => break,
            }
        }
        Err(JsonataError::new("S0101", "String literal must be terminated by a matching quote").at(start))
    }

    fn scan_number(&mut self, start: usize) -> Result<Tok, JsonataError> {
        let b = self.src.as_bytes();
        let mut i = self.pos;
        let digits = |i: &mut usize| {
            let s = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            *i > s
        };
        if b[i] == b'0' {
            i += 1;
        } else {
            digits(&mut i);
        }
        if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
            i += 1;
            digits(&mut i);
        }
        if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
            let mut j = i + 1;
            if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                j += 1;
            }
            if digits(&mut j) {
                i = j;
            }
        }
        let text = &self.src[self.pos..i];
        self.pos = i;
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Tok::Num(n)),
            _ => Err(JsonataError::new("S0102", format!("Number out of range: {text}")).at(start)),
        }
    }

    fn scan_regex(&mut self, start: usize) -> Result<Tok, JsonataError> {
        let b = self.src.as_bytes();
        let body = self.pos;
        let mut depth: i32 = 0;
        let mut i = body;
        while i < b.len() {
            let c = b[i];
            let escaped = {
                let mut n = 0;
                while i > body + n && b[i - n - 1] == b'\\' {
                    n += 1;
                }
                n % 2 == 1
            };
            if c == b'/' && depth == 0 && !escaped {
                let pattern = self.src[body..i].to_string();
                if pattern.is_empty() {
                    return Err(JsonataError::new("S0301", "Empty regular expressions are not allowed").at(start));
                }
                i += 1;
                let fstart = i;
                while i < b.len() && (b[i] == b'i' || b[i] == b'm') {
                    i += 1;
                }
                let flags = self.src[fstart..i].to_string();
                self.pos = i;
                return Ok(Tok::Regex { pattern, flags });
            }
            if !escaped {
                match c {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' | b'}' => depth -= 1,
                    _ => {}
                }
            }
            i += 1;
        }
        Err(JsonataError::new("S0302", "No terminating / in regular expression").at(start))
    }
}

fn hex4(chars: &mut std::str::CharIndices<'_>) -> Option<u32> {
    let mut v = 0;
    for _ in 0..4 {
        v = v * 16 + chars.next()?.1.to_digit(16)?;
    }
    Some(v)
}

fn bad_unicode(pos: usize) -> JsonataError {
    JsonataError::new("S0104", "The escape sequence \\u must be followed by 4 hex digits").at(pos)
}
