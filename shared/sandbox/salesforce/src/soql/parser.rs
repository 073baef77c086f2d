//! A recursive-descent parser for the SOQL subset the emulator answers.
//!
//! ```text
//! query     := SELECT item (, item)* FROM name [WHERE cond] [GROUP BY path (, path)*]
//!              [ORDER BY order (, order)*] [LIMIT n] [OFFSET n] [ALL ROWS]
//! item      := COUNT() | func ( [path] ) [alias] | ( query ) | path
//! cond      := term (AND term)* | term (OR term)*      -- mixing needs parentheses
//! term      := NOT term | ( cond ) | path op value | path [NOT] IN ( values | query )
//!              | path [NOT] LIKE string
//! value     := string | [-]number | TRUE | FALSE | NULL | date | datetime | DATE_LITERAL[:n]
//! ```

use super::SoqlError;
use super::lexer::{Tok, Token, tokenize};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<SelectItem>,
    pub from: String,
    pub filter: Option<Cond>,
    pub group_by: Vec<Vec<String>>,
    pub order_by: Vec<OrderItem>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    pub all_rows: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    /// `Name`, `Account.Owner.Email`.
    Field(Vec<String>),
    /// `COUNT()`: only the row count.
    CountAll,
    /// `COUNT(Id)`, `SUM(Amount) total`, ...
    Aggregate {
        func: AggFunc,
        path: Vec<String>,
        alias: Option<String>,
    },
    /// `(SELECT ... FROM OpportunityLineItems)`.
    Subquery(Box<Query>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    pub path: Vec<String>,
    pub descending: bool,
    pub nulls_last: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    Compare {
        path: Vec<String>,
        op: CmpOp,
        value: Literal,
    },
    In {
        path: Vec<String>,
        negated: bool,
        values: InSource,
    },
    Like {
        path: Vec<String>,
        negated: bool,
        pattern: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum InSource {
    List(Vec<Literal>),
    Query(Box<Query>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Date(chrono::NaiveDate),
    DateTime(chrono::DateTime<chrono::Utc>),
    /// A relative date literal such as `TODAY` or `LAST_N_DAYS:30`.
    Relative {
        name: String,
        n: Option<i64>,
    },
}

const KEYWORDS: &[&str] = &[
    "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC",
    "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "GROUP", "HAVING", "ALL",
    "ROWS", "FOR", "WITH", "USING", "INCLUDES", "EXCLUDES",
];

const RELATIVE_DATES: &[&str] = &[
    "YESTERDAY",
    "TODAY",
    "TOMORROW",
    "LAST_WEEK",
    "THIS_WEEK",
    "NEXT_WEEK",
    "LAST_MONTH",
    "THIS_MONTH",
    "NEXT_MONTH",
    "LAST_90_DAYS",
    "NEXT_90_DAYS",
    "THIS_QUARTER",
    "LAST_QUARTER",
    "NEXT_QUARTER",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
];

const RELATIVE_DATES_N: &[&str] = &[
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
    "N_DAYS_AGO",
    "LAST_N_WEEKS",
    "NEXT_N_WEEKS",
    "LAST_N_MONTHS",
    "NEXT_N_MONTHS",
];

/// Parses one SOQL statement.
pub fn parse(src: &str) -> Result<Query, SoqlError> {
    let tokens = tokenize(src)?;
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let q = p.query()?;
    p.expect_end()?;
    Ok(q)
}

/// How deep parentheses, `NOT`s and semi-join subqueries may nest. The parser recurses once
/// per level, so without a bound a hostile query string would overflow the stack and abort
/// the process.
const MAX_NESTING: usize = 100;

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Condition terms open at this point (see [`MAX_NESTING`]).
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.tokens
            .get(self.at)
            .map(|t| &t.tok)
            .unwrap_or(&Tok::End)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.tokens
            .get(self.at + n)
            .map(|t| &t.tok)
            .unwrap_or(&Tok::End)
    }

    fn col(&self) -> usize {
        self.tokens.get(self.at).map(|t| t.col).unwrap_or(0)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        self.at += 1;
        t
    }

    fn unexpected(&self) -> SoqlError {
        SoqlError::malformed(self.col(), &self.peek().shown())
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SoqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), SoqlError> {
        if self.peek() == tok {
            self.at += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect_end(&self) -> Result<(), SoqlError> {
        if *self.peek() == Tok::End {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// A name that is not a reserved word.
    fn name(&mut self) -> Result<String, SoqlError> {
        match self.peek() {
            Tok::Ident(s) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s)) => {
                let s = s.clone();
                self.at += 1;
                Ok(s)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn path(&mut self) -> Result<Vec<String>, SoqlError> {
        let mut parts = vec![self.name()?];
        while *self.peek() == Tok::Dot {
            self.at += 1;
            parts.push(self.name()?);
        }
        Ok(parts)
    }

    fn query(&mut self) -> Result<Query, SoqlError> {
        self.expect_kw("SELECT")?;
        let mut select = vec![self.select_item()?];
        while *self.peek() == Tok::Comma {
            self.at += 1;
            select.push(self.select_item()?);
        }
        self.expect_kw("FROM")?;
        let from = self.name()?;
        // `FROM Account a`: an alias is accepted and ignored.
        if matches!(self.peek(), Tok::Ident(s) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s)))
        {
            self.at += 1;
        }
        if self.eat_kw("USING") {
            self.expect_kw("SCOPE")?;
            self.name()?;
        }
        let filter = if self.eat_kw("WHERE") {
            Some(self.cond()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            group_by.push(self.path()?);
            while *self.peek() == Tok::Comma {
                self.at += 1;
                group_by.push(self.path()?);
            }
        }
        let mut order_by = Vec::new();
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let path = self.path()?;
                let descending = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                let nulls_last = if self.eat_kw("NULLS") {
                    if self.eat_kw("LAST") {
                        true
                    } else {
                        self.expect_kw("FIRST")?;
                        false
                    }
                } else {
                    descending
                };
                order_by.push(OrderItem {
                    path,
                    descending,
                    nulls_last,
                });
                if *self.peek() != Tok::Comma {
                    break;
                }
                self.at += 1;
            }
        }
        let limit = if self.eat_kw("LIMIT") {
            Some(self.count()?)
        } else {
            None
        };
        let offset = if self.eat_kw("OFFSET") {
            Some(self.count()?)
        } else {
            None
        };
        if self.eat_kw("FOR") {
            // FOR VIEW / FOR REFERENCE / FOR UPDATE change nothing here.
            self.name()?;
        }
        let all_rows = if self.eat_kw("ALL") {
            self.expect_kw("ROWS")?;
            true
        } else {
            false
        };
        Ok(Query {
            select,
            from,
            filter,
            group_by,
            order_by,
            limit,
            offset,
            all_rows,
        })
    }

    fn count(&mut self) -> Result<u64, SoqlError> {
        match self.peek().clone() {
            Tok::Num(n) => {
                let v = n.parse::<u64>().map_err(|_| self.unexpected())?;
                self.at += 1;
                Ok(v)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn select_item(&mut self) -> Result<SelectItem, SoqlError> {
        if *self.peek() == Tok::LParen {
            self.at += 1;
            let q = self.nested(Self::query)?;
            self.expect(&Tok::RParen)?;
            return Ok(SelectItem::Subquery(Box::new(q)));
        }
        if let Tok::Ident(name) = self.peek().clone()
            && *self.peek_at(1) == Tok::LParen
        {
            let func = match name.to_ascii_uppercase().as_str() {
                "COUNT" => AggFunc::Count,
                "COUNT_DISTINCT" => AggFunc::CountDistinct,
                "SUM" => AggFunc::Sum,
                "AVG" => AggFunc::Avg,
                "MIN" => AggFunc::Min,
                "MAX" => AggFunc::Max,
                _ => return Err(self.unexpected()),
            };
            self.at += 2;
            if func == AggFunc::Count && *self.peek() == Tok::RParen {
                self.at += 1;
                return Ok(SelectItem::CountAll);
            }
            let path = self.path()?;
            self.expect(&Tok::RParen)?;
            let alias = match self.peek() {
                Tok::Ident(s) if !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(s)) => {
                    Some(self.name()?)
                }
                _ => None,
            };
            return Ok(SelectItem::Aggregate { func, path, alias });
        }
        Ok(SelectItem::Field(self.path()?))
    }

    fn cond(&mut self) -> Result<Cond, SoqlError> {
        let first = self.term()?;
        let mut terms = vec![first];
        let mut joiner: Option<&'static str> = None;
        loop {
            let this = if self.is_kw("AND") {
                "AND"
            } else if self.is_kw("OR") {
                "OR"
            } else {
                break;
            };
            if joiner.is_some_and(|j| j != this) {
                // SOQL refuses `a AND b OR c` without parentheses.
                return Err(self.unexpected());
            }
            joiner = Some(this);
            self.at += 1;
            terms.push(self.term()?);
        }
        Ok(match (joiner, terms.len()) {
            (_, 1) => terms.remove(0),
            (Some("OR"), _) => Cond::Or(terms),
            _ => Cond::And(terms),
        })
    }

    /// Runs `parse` one nesting level down, refusing to go past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        parse: impl FnOnce(&mut Self) -> Result<T, SoqlError>,
    ) -> Result<T, SoqlError> {
        if self.depth >= MAX_NESTING {
            return Err(SoqlError::new(
                "MALFORMED_QUERY",
                format!(
                    "ERROR at Row:1:Column:{}\nthe query nests deeper than {MAX_NESTING} levels",
                    self.col()
                ),
            ));
        }
        self.depth += 1;
        let parsed = parse(self);
        self.depth -= 1;
        parsed
    }

    fn term(&mut self) -> Result<Cond, SoqlError> {
        self.nested(Self::nested_term)
    }

    fn nested_term(&mut self) -> Result<Cond, SoqlError> {
        if self.eat_kw("NOT") {
            return Ok(Cond::Not(Box::new(self.term()?)));
        }
        if *self.peek() == Tok::LParen {
            self.at += 1;
            let c = self.cond()?;
            self.expect(&Tok::RParen)?;
            return Ok(c);
        }
        let path = self.path()?;
        let negated = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            self.expect(&Tok::LParen)?;
            let values = if self.is_kw("SELECT") {
                InSource::Query(Box::new(self.query()?))
            } else {
                let mut list = vec![self.literal()?];
                while *self.peek() == Tok::Comma {
                    self.at += 1;
                    list.push(self.literal()?);
                }
                InSource::List(list)
            };
            self.expect(&Tok::RParen)?;
            return Ok(Cond::In {
                path,
                negated,
                values,
            });
        }
        if self.eat_kw("LIKE") {
            return match self.bump() {
                Tok::Str(pattern) => Ok(Cond::Like {
                    path,
                    negated,
                    pattern,
                }),
                _ => {
                    self.at -= 1;
                    Err(self.unexpected())
                }
            };
        }
        if negated {
            return Err(self.unexpected());
        }
        let op = match self.peek() {
            Tok::Op("=") => CmpOp::Eq,
            Tok::Op("!=") => CmpOp::Ne,
            Tok::Op("<") => CmpOp::Lt,
            Tok::Op("<=") => CmpOp::Le,
            Tok::Op(">") => CmpOp::Gt,
            Tok::Op(">=") => CmpOp::Ge,
            _ => return Err(self.unexpected()),
        };
        self.at += 1;
        let value = self.literal()?;
        Ok(Cond::Compare { path, op, value })
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let negative = if *self.peek() == Tok::Minus {
            self.at += 1;
            true
        } else {
            false
        };
        let lit = match self.peek().clone() {
            Tok::Num(n) => {
                let v: f64 = n.parse().map_err(|_| self.unexpected())?;
                Literal::Number(if negative { -v } else { v })
            }
            _ if negative => return Err(self.unexpected()),
            Tok::Str(s) => Literal::Str(s),
            Tok::Date(d) => Literal::Date(d),
            Tok::DateTime(t) => Literal::DateTime(t),
            Tok::Ident(s) => {
                let upper = s.to_ascii_uppercase();
                match upper.as_str() {
                    "NULL" => Literal::Null,
                    "TRUE" => Literal::Bool(true),
                    "FALSE" => Literal::Bool(false),
                    u if RELATIVE_DATES.contains(&u) => Literal::Relative {
                        name: upper.clone(),
                        n: None,
                    },
                    u if RELATIVE_DATES_N.contains(&u) => {
                        self.at += 1;
                        self.expect(&Tok::Colon)?;
                        let n = self.count()?;
                        return Ok(Literal::Relative {
                            name: upper,
                            n: Some(i64::try_from(n).unwrap_or(i64::MAX)),
                        });
                    }
                    _ => return Err(self.unexpected()),
                }
            }
            _ => return Err(self.unexpected()),
        };
        self.at += 1;
        Ok(lit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_relationships_subqueries_and_clauses() {
        let q = parse(
            "SELECT Id, Account.Name, Owner.Email, (SELECT Quantity FROM OpportunityLineItems ORDER BY SortOrder) \
             FROM Opportunity WHERE IsWon = true AND (Amount > 100 OR Name LIKE 'Big%') \
             ORDER BY CloseDate DESC, Name LIMIT 10 OFFSET 5",
        )
        .unwrap();
        assert_eq!(q.from, "Opportunity");
        assert_eq!(q.select.len(), 4);
        assert_eq!(
            q.select[1],
            SelectItem::Field(vec!["Account".into(), "Name".into()])
        );
        assert!(matches!(q.select[3], SelectItem::Subquery(_)));
        assert_eq!(q.limit, Some(10));
        assert_eq!(q.offset, Some(5));
        assert!(q.order_by[0].descending && q.order_by[0].nulls_last);
        assert!(!q.order_by[1].descending && !q.order_by[1].nulls_last);
        let Some(Cond::And(terms)) = q.filter else {
            panic!("and expected")
        };
        assert!(matches!(terms[1], Cond::Or(_)));
    }

    #[test]
    fn literals_of_every_kind() {
        let q = parse(
            "SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS:7 AND CloseDate__x = 2024-01-01 \
             AND Balance < -3 AND Flag = false AND Name != null AND Id IN ('a', 'b') AND Name NOT LIKE '%x' \
             AND CreatedDate < 2024-01-01T00:00:00Z AND Id NOT IN (SELECT AccountId FROM Contact)",
        )
        .unwrap();
        let Some(Cond::And(terms)) = q.filter else {
            panic!()
        };
        assert_eq!(terms.len(), 9);
        assert!(matches!(
            &terms[0],
            Cond::Compare {
                value: Literal::Relative { n: Some(7), .. },
                ..
            }
        ));
        assert!(matches!(&terms[2], Cond::Compare { value: Literal::Number(n), .. } if *n == -3.0));
        assert!(matches!(
            &terms[8],
            Cond::In {
                negated: true,
                values: InSource::Query(_),
                ..
            }
        ));
    }

    #[test]
    fn count_and_aggregates() {
        let q = parse("SELECT COUNT() FROM Account").unwrap();
        assert_eq!(q.select, vec![SelectItem::CountAll]);
        let q = parse("SELECT AccountId, SUM(Amount) total FROM Opportunity GROUP BY AccountId")
            .unwrap();
        assert_eq!(
            q.select[1],
            SelectItem::Aggregate {
                func: AggFunc::Sum,
                path: vec!["Amount".into()],
                alias: Some("total".into())
            }
        );
        assert_eq!(q.group_by, vec![vec!["AccountId".to_owned()]]);
    }

    #[test]
    fn malformed_queries_name_the_token() {
        let e = parse("SELECT Id FORM Account").unwrap_err();
        assert_eq!(e.code, "MALFORMED_QUERY");
        assert!(
            e.message.contains("unexpected token: 'Account'") || e.message.contains("FORM"),
            "{}",
            e.message
        );
        let e = parse("SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3").unwrap_err();
        assert!(e.message.contains("OR"), "{}", e.message);
        assert!(parse("SELECT FROM Account").is_err());
        assert!(parse("SELECT Id FROM Account LIMIT x").is_err());
        assert!(parse("SELECT Id FROM Account WHERE Name = ").is_err());
        assert!(parse("SELECT Id FROM Account extra tokens").is_err());
    }

    #[test]
    fn runaway_nesting_is_refused_not_a_stack_overflow() {
        // A query string can be 16 KB in a URL and far more in a composite or Bulk body.
        let deep = format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'{}",
            "(".repeat(20_000),
            ")".repeat(20_000)
        );
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.code, "MALFORMED_QUERY");
        let nots = format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'",
            "NOT ".repeat(20_000)
        );
        assert_eq!(parse(&nots).unwrap_err().code, "MALFORMED_QUERY");
        let subqueries = format!("{}Id FROM Account", "SELECT (".repeat(20_000));
        assert_eq!(parse(&subqueries).unwrap_err().code, "MALFORMED_QUERY");
        // Reasonable nesting still parses.
        let ok = format!(
            "SELECT Id FROM Account WHERE {}Name = 'x'{}",
            "(".repeat(20),
            ")".repeat(20)
        );
        assert!(parse(&ok).is_ok());
    }
}
