//! SOQL tokens.

use chrono::{DateTime, NaiveDate, Utc};

use super::SoqlError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// A name or keyword, as written.
    Ident(String),
    /// A quoted string, escapes resolved.
    Str(String),
    /// A number, as written.
    Num(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    /// `=`, `!=`, `<>`, `<`, `>`, `<=`, `>=`.
    Op(&'static str),
    LParen,
    RParen,
    Comma,
    Dot,
    Colon,
    Minus,
    End,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    /// 1-based column, for error messages.
    pub col: usize,
}

impl Tok {
    /// How the token looks in an "unexpected token" message.
    pub fn shown(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Num(s) => s.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Date(d) => d.to_string(),
            Tok::DateTime(t) => t.to_rfc3339(),
            Tok::Op(o) => (*o).to_owned(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Comma => ",".into(),
            Tok::Dot => ".".into(),
            Tok::Colon => ":".into(),
            Tok::Minus => "-".into(),
            Tok::End => "<EOF>".into(),
        }
    }
}

pub fn tokenize(src: &str) -> Result<Vec<Token>, SoqlError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            '.' => Some(Tok::Dot),
            ':' => Some(Tok::Colon),
            '-' => Some(Tok::Minus),
            '=' => Some(Tok::Op("=")),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token { tok, col });
            i += 1;
            continue;
        }
        let next = chars.get(i + 1).copied();
        match c {
            '!' if next == Some('=') => {
                out.push(Token {
                    tok: Tok::Op("!="),
                    col,
                });
                i += 2;
            }
            '<' | '>' => {
                let (op, len) = match (c, next) {
                    ('<', Some('=')) => ("<=", 2),
                    ('<', Some('>')) => ("!=", 2),
                    ('>', Some('=')) => (">=", 2),
                    ('<', _) => ("<", 1),
                    _ => (">", 1),
                };
                out.push(Token {
                    tok: Tok::Op(op),
                    col,
                });
                i += len;
            }
            '\'' => {
                let (s, end) = string_literal(&chars, i)?;
                out.push(Token {
                    tok: Tok::Str(s),
                    col,
                });
                i = end;
            }
            c if c.is_ascii_digit() => {
                if let Some((tok, end)) = date_literal(&chars, i) {
                    out.push(Token { tok, col });
                    i = end;
                    continue;
                }
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Num(chars[start..i].iter().collect()),
                    col,
                });
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Ident(chars[start..i].iter().collect()),
                    col,
                });
            }
            other => {
                return Err(SoqlError::malformed(col, &other.to_string()));
            }
        }
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}

fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), SoqlError> {
    let mut s = String::new();
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\'' => return Ok((s, i + 1)),
            '\\' => {
                let escaped = chars.get(i + 1).copied().ok_or_else(|| {
                    SoqlError::new("MALFORMED_QUERY", "unterminated string literal".to_owned())
                })?;
                match escaped {
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    // LIKE wildcards stay escaped so the matcher can tell them apart.
                    '_' | '%' => {
                        s.push('\\');
                        s.push(escaped);
                    }
                    '\'' | '"' | '\\' => s.push(escaped),
                    other => {
                        return Err(SoqlError::new(
                            "MALFORMED_QUERY",
                            format!(
                                "Invalid string literal '\\{other}'. Illegal character sequence '\\{other}' in string literal."
                            ),
                        ));
                    }
                }
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
    Err(SoqlError::new(
        "MALFORMED_QUERY",
        format!(
            "ERROR at Row:1:Column:{}\nunterminated string literal",
            start + 1
        ),
    ))
}

fn digits(chars: &[char], at: usize, n: usize) -> Option<u32> {
    let slice = chars.get(at..at + n)?;
    if slice.iter().all(char::is_ascii_digit) {
        slice.iter().collect::<String>().parse().ok()
    } else {
        None
    }
}

/// `2024-01-31` or `2024-01-31T10:00:00Z` / `...+01:00` / `...-0500`, with optional fraction.
fn date_literal(chars: &[char], i: usize) -> Option<(Tok, usize)> {
    let year = digits(chars, i, 4)?;
    if chars.get(i + 4) != Some(&'-') || chars.get(i + 7) != Some(&'-') {
        return None;
    }
    let month = digits(chars, i + 5, 2)?;
    let day = digits(chars, i + 8, 2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    let mut j = i + 10;
    if chars.get(j) != Some(&'T') {
        return Some((Tok::Date(date), j));
    }
    j += 1;
    let hour = digits(chars, j, 2)?;
    let minute = digits(chars, j + 3, 2)?;
    let second = digits(chars, j + 6, 2)?;
    if chars.get(j + 2) != Some(&':') || chars.get(j + 5) != Some(&':') {
        return None;
    }
    j += 8;
    let mut nanos = 0u32;
    if chars.get(j) == Some(&'.') {
        j += 1;
        let start = j;
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        let frac: String = chars[start..j].iter().take(9).collect();
        let padded = format!("{frac:0<9}");
        nanos = padded.parse().ok()?;
    }
    let offset_secs: i64 = match chars.get(j) {
        Some('Z') | Some('z') => {
            j += 1;
            0
        }
        Some(sign @ ('+' | '-')) => {
            let sign = if *sign == '-' { -1 } else { 1 };
            let oh = digits(chars, j + 1, 2)?;
            let (om, len) = if chars.get(j + 3) == Some(&':') {
                (digits(chars, j + 4, 2)?, 6)
            } else {
                (digits(chars, j + 3, 2)?, 5)
            };
            j += len;
            sign * i64::from(oh * 3600 + om * 60)
        }
        _ => return None,
    };
    let naive = date.and_hms_nano_opt(hour, minute, second, nanos)?;
    let utc = naive.and_utc() - chrono::Duration::seconds(offset_secs);
    Some((Tok::DateTime(utc), j))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        tokenize(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn tokens_cover_the_subset() {
        assert_eq!(
            toks("SELECT Id FROM Account WHERE Name != 'O\\'Brien' AND Amount >= -5.5"),
            vec![
                Tok::Ident("SELECT".into()),
                Tok::Ident("Id".into()),
                Tok::Ident("FROM".into()),
                Tok::Ident("Account".into()),
                Tok::Ident("WHERE".into()),
                Tok::Ident("Name".into()),
                Tok::Op("!="),
                Tok::Str("O'Brien".into()),
                Tok::Ident("AND".into()),
                Tok::Ident("Amount".into()),
                Tok::Op(">="),
                Tok::Minus,
                Tok::Num("5.5".into()),
                Tok::End,
            ]
        );
    }

    #[test]
    fn dates_and_datetimes_with_offsets() {
        assert_eq!(
            toks("2024-02-29"),
            vec![
                Tok::Date(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()),
                Tok::End
            ]
        );
        let t = toks("2024-01-01T10:00:00+02:00");
        assert_eq!(
            t[0],
            Tok::DateTime("2024-01-01T08:00:00Z".parse::<DateTime<Utc>>().unwrap())
        );
        let t = toks("2024-01-01T10:00:00.250Z");
        assert_eq!(
            t[0],
            Tok::DateTime("2024-01-01T10:00:00.250Z".parse::<DateTime<Utc>>().unwrap())
        );
        assert_eq!(
            toks("LAST_N_DAYS:30"),
            vec![
                Tok::Ident("LAST_N_DAYS".into()),
                Tok::Colon,
                Tok::Num("30".into()),
                Tok::End
            ]
        );
    }

    #[test]
    fn bad_characters_and_strings_are_malformed() {
        assert_eq!(
            tokenize("SELECT Id FROM Account WHERE Name = 'x")
                .unwrap_err()
                .code,
            "MALFORMED_QUERY"
        );
        let e = tokenize("SELECT # FROM Account").unwrap_err();
        assert!(e.message.contains("Column:8"), "{}", e.message);
    }
}
