//! Building SOQL without string concatenation. Field and object names are checked as API
//! names; every value is a [`Literal`] rendered with SOQL's escaping, so no caller ever puts
//! raw text into a query.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use lf_domain::SalesforceId;
use lf_domain::datetime;
use rust_decimal::Decimal;

use crate::error::SalesforceError;
use crate::request::{check_api_name, check_field_path};

/// A complete SOQL statement that is safe to send.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Soql(String);

impl Soql {
    /// A fixed statement written in the source code. `'static` keeps runtime data out: build
    /// anything with values through [`Select`].
    pub fn from_static(statement: &'static str) -> Self {
        Self(statement.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For statements this crate assembles itself from checked names and rendered literals.
    pub(crate) fn checked(statement: String) -> Self {
        Self(statement)
    }
}

impl fmt::Display for Soql {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A value in a SOQL condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Text(String),
    Integer(i64),
    Decimal(Decimal),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Id(SalesforceId),
}

impl Literal {
    pub fn text(s: impl Into<String>) -> Self {
        Literal::Text(s.into())
    }

    /// The literal as SOQL source.
    pub fn render(&self) -> String {
        match self {
            Literal::Null => "null".to_owned(),
            Literal::Bool(b) => b.to_string(),
            Literal::Text(s) => quote(&escape(s)),
            Literal::Integer(i) => i.to_string(),
            Literal::Decimal(d) => d.normalize().to_string(),
            Literal::Date(d) => datetime::format_salesforce_date(*d),
            // Salesforce keeps whole seconds; a sub-second value (an emulator's, or a stamp
            // computed here) keeps its milliseconds so `=` and `>` compare exactly.
            Literal::DateTime(t) => datetime::format_rfc3339_exact(*t),
            Literal::Id(id) => quote(id.as_str()),
        }
    }
}

impl From<&str> for Literal {
    fn from(s: &str) -> Self {
        Literal::Text(s.to_owned())
    }
}

impl From<String> for Literal {
    fn from(s: String) -> Self {
        Literal::Text(s)
    }
}

impl From<&SalesforceId> for Literal {
    fn from(id: &SalesforceId) -> Self {
        Literal::Id(id.clone())
    }
}

impl From<bool> for Literal {
    fn from(b: bool) -> Self {
        Literal::Bool(b)
    }
}

impl From<i64> for Literal {
    fn from(i: i64) -> Self {
        Literal::Integer(i)
    }
}

impl From<Decimal> for Literal {
    fn from(d: Decimal) -> Self {
        Literal::Decimal(d)
    }
}

impl From<NaiveDate> for Literal {
    fn from(d: NaiveDate) -> Self {
        Literal::Date(d)
    }
}

impl From<DateTime<Utc>> for Literal {
    fn from(t: DateTime<Utc>) -> Self {
        Literal::DateTime(t)
    }
}

fn quote(escaped: &str) -> String {
    format!("'{escaped}'")
}

/// Escapes text for a quoted SOQL string: backslash, both quotes, and the control escapes SOQL
/// defines (`\n \r \t \b \f`).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out
}

/// A `LIKE` pattern whose literal parts have `%` and `_` escaped too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LikePattern(String);

impl LikePattern {
    fn literal(s: &str) -> String {
        escape(s).replace('%', "\\%").replace('_', "\\_")
    }

    pub fn exact(s: &str) -> Self {
        Self(Self::literal(s))
    }

    pub fn starts_with(s: &str) -> Self {
        Self(format!("{}%", Self::literal(s)))
    }

    pub fn ends_with(s: &str) -> Self {
        Self(format!("%{}", Self::literal(s)))
    }

    pub fn contains(s: &str) -> Self {
        Self(format!("%{}%", Self::literal(s)))
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn as_str(&self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }
}

/// A `WHERE` condition. Names are checked and values rendered when the query is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        field: String,
        op: Op,
        value: Literal,
    },
    In {
        field: String,
        values: Vec<Literal>,
        negated: bool,
    },
    Like {
        field: String,
        pattern: LikePattern,
    },
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
}

impl Condition {
    pub fn compare(field: &str, op: Op, value: impl Into<Literal>) -> Self {
        Condition::Compare {
            field: field.to_owned(),
            op,
            value: value.into(),
        }
    }

    pub fn eq(field: &str, value: impl Into<Literal>) -> Self {
        Self::compare(field, Op::Eq, value)
    }

    pub fn ne(field: &str, value: impl Into<Literal>) -> Self {
        Self::compare(field, Op::Ne, value)
    }

    pub fn gt(field: &str, value: impl Into<Literal>) -> Self {
        Self::compare(field, Op::Gt, value)
    }

    pub fn ge(field: &str, value: impl Into<Literal>) -> Self {
        Self::compare(field, Op::Ge, value)
    }

    pub fn lt(field: &str, value: impl Into<Literal>) -> Self {
        Self::compare(field, Op::Lt, value)
    }

    pub fn le(field: &str, value: impl Into<Literal>) -> Self {
        Self::compare(field, Op::Le, value)
    }

    pub fn is_in<L: Into<Literal>>(field: &str, values: impl IntoIterator<Item = L>) -> Self {
        Condition::In {
            field: field.to_owned(),
            values: values.into_iter().map(Into::into).collect(),
            negated: false,
        }
    }

    pub fn not_in<L: Into<Literal>>(field: &str, values: impl IntoIterator<Item = L>) -> Self {
        Condition::In {
            field: field.to_owned(),
            values: values.into_iter().map(Into::into).collect(),
            negated: true,
        }
    }

    pub fn like(field: &str, pattern: LikePattern) -> Self {
        Condition::Like {
            field: field.to_owned(),
            pattern,
        }
    }

    pub fn and(self, other: Condition) -> Self {
        match self {
            Condition::And(mut all) => {
                all.push(other);
                Condition::And(all)
            }
            first => Condition::And(vec![first, other]),
        }
    }

    pub fn or(self, other: Condition) -> Self {
        match self {
            Condition::Or(mut any) => {
                any.push(other);
                Condition::Or(any)
            }
            first => Condition::Or(vec![first, other]),
        }
    }

    pub fn negate(self) -> Self {
        Condition::Not(Box::new(self))
    }

    /// Renders the condition, checking every field name.
    pub fn render(&self) -> Result<String, SalesforceError> {
        Ok(match self {
            Condition::Compare { field, op, value } => {
                format!(
                    "{} {} {}",
                    check_field_path(field)?,
                    op.as_str(),
                    value.render()
                )
            }
            Condition::In {
                field,
                values,
                negated,
            } => {
                if values.is_empty() {
                    return Err(SalesforceError::InvalidInput(format!(
                        "{field} IN () is not valid SOQL: the list is empty"
                    )));
                }
                let list: Vec<String> = values.iter().map(Literal::render).collect();
                let op = if *negated { "NOT IN" } else { "IN" };
                format!("{} {op} ({})", check_field_path(field)?, list.join(","))
            }
            Condition::Like { field, pattern } => {
                format!("{} LIKE '{}'", check_field_path(field)?, pattern.0)
            }
            Condition::And(parts) => join(parts, " AND ")?,
            Condition::Or(parts) => join(parts, " OR ")?,
            Condition::Not(inner) => format!("NOT ({})", inner.render()?),
        })
    }
}

fn join(parts: &[Condition], sep: &str) -> Result<String, SalesforceError> {
    if parts.is_empty() {
        return Err(SalesforceError::InvalidInput(
            "an AND/OR condition needs at least one part".into(),
        ));
    }
    let rendered: Result<Vec<String>, SalesforceError> = parts
        .iter()
        .map(|p| {
            let r = p.render()?;
            Ok(match p {
                Condition::And(_) | Condition::Or(_) => format!("({r})"),
                _ => r,
            })
        })
        .collect();
    Ok(rendered?.join(sep))
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
}

impl Aggregate {
    fn as_str(&self) -> &'static str {
        match self {
            Aggregate::Count => "COUNT",
            Aggregate::CountDistinct => "COUNT_DISTINCT",
            Aggregate::Sum => "SUM",
            Aggregate::Avg => "AVG",
            Aggregate::Min => "MIN",
            Aggregate::Max => "MAX",
        }
    }
}

/// Date functions, usable as a column and in `GROUP BY`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFunction {
    CalendarMonth,
    CalendarQuarter,
    CalendarYear,
    DayOnly,
    FiscalMonth,
    FiscalQuarter,
    FiscalYear,
}

impl DateFunction {
    fn as_str(&self) -> &'static str {
        match self {
            DateFunction::CalendarMonth => "CALENDAR_MONTH",
            DateFunction::CalendarQuarter => "CALENDAR_QUARTER",
            DateFunction::CalendarYear => "CALENDAR_YEAR",
            DateFunction::DayOnly => "DAY_ONLY",
            DateFunction::FiscalMonth => "FISCAL_MONTH",
            DateFunction::FiscalQuarter => "FISCAL_QUARTER",
            DateFunction::FiscalYear => "FISCAL_YEAR",
        }
    }
}

/// A field path, or a date function over one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    Field(String),
    Date(DateFunction, String),
}

impl Expr {
    fn render(&self) -> Result<String, SalesforceError> {
        Ok(match self {
            Expr::Field(f) => check_field_path(f)?.to_owned(),
            Expr::Date(func, f) => format!("{}({})", func.as_str(), check_field_path(f)?),
        })
    }
}

/// One item of a select list.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Expr(Expr),
    Aggregate {
        func: Aggregate,
        /// `None` only for `COUNT()`.
        of: Option<Expr>,
        alias: Option<String>,
    },
    Child(Box<Select>),
}

/// A `SELECT` statement under construction.
#[derive(Debug, Clone, PartialEq)]
pub struct Select {
    columns: Vec<Column>,
    object: String,
    filter: Option<Condition>,
    group_by: Vec<Expr>,
    order_by: Vec<(String, Order)>,
    limit: Option<u32>,
}

impl Select {
    /// `SELECT fields FROM object`.
    pub fn new<S: AsRef<str>>(fields: &[S], object: &str) -> Self {
        Self {
            columns: fields
                .iter()
                .map(|f| Column::Expr(Expr::Field(f.as_ref().to_owned())))
                .collect(),
            object: object.to_owned(),
            filter: None,
            group_by: Vec::new(),
            order_by: Vec::new(),
            limit: None,
        }
    }

    /// Adds a child subquery: `child` is a `Select` whose object is the child relationship
    /// name (`OpportunityLineItems`). SOQL allows one level: a child with children is refused.
    pub fn child(mut self, child: Select) -> Self {
        self.columns.push(Column::Child(Box::new(child)));
        self
    }

    /// Adds a date function column, e.g. `CALENDAR_MONTH(CloseDate)`.
    pub fn date_column(mut self, func: DateFunction, field: &str) -> Self {
        self.columns
            .push(Column::Expr(Expr::Date(func, field.to_owned())));
        self
    }

    /// Adds an aggregate column, e.g. `SUM(Amount) total`. `field: None` gives `COUNT()`,
    /// which stands alone.
    pub fn aggregate(mut self, func: Aggregate, field: Option<&str>, alias: Option<&str>) -> Self {
        self.columns.push(Column::Aggregate {
            func,
            of: field.map(|f| Expr::Field(f.to_owned())),
            alias: alias.map(str::to_owned),
        });
        self
    }

    /// Groups by a field path.
    pub fn group_by(mut self, field: &str) -> Self {
        self.group_by.push(Expr::Field(field.to_owned()));
        self
    }

    /// Groups by a date function over a field, e.g. `CALENDAR_MONTH(CloseDate)`.
    pub fn group_by_date(mut self, func: DateFunction, field: &str) -> Self {
        self.group_by.push(Expr::Date(func, field.to_owned()));
        self
    }

    /// Adds a condition (ANDed with any condition already set).
    pub fn filter(mut self, condition: Condition) -> Self {
        self.filter = Some(match self.filter {
            Some(existing) => existing.and(condition),
            None => condition,
        });
        self
    }

    pub fn order_by(mut self, field: &str, order: Order) -> Self {
        self.order_by.push((field.to_owned(), order));
        self
    }

    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(n);
        self
    }

    /// Checks every name and renders the statement.
    pub fn build(&self) -> Result<Soql, SalesforceError> {
        let (head, tail) = self.render_around(None)?;
        Ok(Soql(format!("{head}{tail}")))
    }

    /// The statement split where an `AND field IN (` list goes: everything up to and including
    /// the opening parenthesis, and everything from the closing one. With `in_field: None` the
    /// two parts simply join into the statement.
    pub(crate) fn render_around(
        &self,
        in_field: Option<&str>,
    ) -> Result<(String, String), SalesforceError> {
        self.render_parts(in_field, true)
    }

    fn render_parts(
        &self,
        in_field: Option<&str>,
        top_level: bool,
    ) -> Result<(String, String), SalesforceError> {
        if self.columns.is_empty() {
            return Err(SalesforceError::InvalidInput(
                "a SELECT needs at least one field".into(),
            ));
        }
        let mut columns = Vec::with_capacity(self.columns.len());
        for c in &self.columns {
            columns.push(match c {
                Column::Expr(e) => e.render()?,
                Column::Aggregate { func, of, alias } => {
                    let inner = match of {
                        Some(e) => e.render()?,
                        None if *func == Aggregate::Count && self.columns.len() == 1 => {
                            String::new()
                        }
                        None => {
                            return Err(SalesforceError::InvalidInput(
                                "COUNT() cannot be combined with other columns; only COUNT \
                                 may omit its field"
                                    .into(),
                            ));
                        }
                    };
                    match alias {
                        Some(a) => {
                            format!("{}({inner}) {}", func.as_str(), check_api_name("alias", a)?)
                        }
                        None => format!("{}({inner})", func.as_str()),
                    }
                }
                Column::Child(child) => {
                    if !top_level {
                        return Err(SalesforceError::InvalidInput(
                            "SOQL allows child subqueries one level deep only".into(),
                        ));
                    }
                    let (head, tail) = child.render_parts(None, false)?;
                    format!("({head}{tail})")
                }
            });
        }
        let mut head = format!(
            "SELECT {} FROM {}",
            columns.join(", "),
            check_api_name("object", &self.object)?
        );
        match (&self.filter, in_field) {
            (Some(filter), Some(field)) => head.push_str(&format!(
                " WHERE {} AND {} IN (",
                wrapped(filter)?,
                check_field_path(field)?
            )),
            (Some(filter), None) => {
                head.push_str(" WHERE ");
                head.push_str(&filter.render()?);
            }
            (None, Some(field)) => {
                head.push_str(&format!(" WHERE {} IN (", check_field_path(field)?));
            }
            (None, None) => {}
        }
        let mut tail = if in_field.is_some() {
            ")".to_owned()
        } else {
            String::new()
        };
        if !self.group_by.is_empty() {
            let parts: Result<Vec<String>, _> = self.group_by.iter().map(Expr::render).collect();
            tail.push_str(" GROUP BY ");
            tail.push_str(&parts?.join(", "));
        }
        if !self.order_by.is_empty() {
            let mut parts = Vec::new();
            for (field, order) in &self.order_by {
                let dir = match order {
                    Order::Asc => "ASC",
                    Order::Desc => "DESC",
                };
                parts.push(format!("{} {dir}", check_field_path(field)?));
            }
            tail.push_str(" ORDER BY ");
            tail.push_str(&parts.join(", "));
        }
        if let Some(n) = self.limit {
            tail.push_str(&format!(" LIMIT {n}"));
        }
        Ok((head, tail))
    }
}

/// A condition rendered so that `AND` can follow it without changing its meaning.
fn wrapped(c: &Condition) -> Result<String, SalesforceError> {
    let r = c.render()?;
    Ok(match c {
        Condition::Or(_) => format!("({r})"),
        _ => r,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn text_is_escaped() {
        assert_eq!(Literal::text("O'Brien").render(), r"'O\'Brien'");
        assert_eq!(
            Literal::text("a\\b \"c\"\n\t\r").render(),
            r#"'a\\b \"c\"\n\t\r'"#
        );
        // A classic injection attempt stays inside the literal.
        let attack = Literal::text("x' OR Name != '").render();
        assert_eq!(attack, r"'x\' OR Name != \''");
    }

    #[test]
    fn other_literals_render_unquoted_where_soql_wants() {
        let date = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        assert_eq!(Literal::from(date).render(), "2026-01-31");
        let t = DateTime::parse_from_rfc3339("2026-01-31T10:20:30.123+02:00")
            .unwrap()
            .to_utc();
        assert_eq!(Literal::from(t).render(), "2026-01-31T08:20:30.123Z");
        let whole = DateTime::parse_from_rfc3339("2026-01-31T10:20:30+02:00")
            .unwrap()
            .to_utc();
        assert_eq!(Literal::from(whole).render(), "2026-01-31T08:20:30Z");
        assert_eq!(
            Literal::from(Decimal::from_str("1200.500").unwrap()).render(),
            "1200.5"
        );
        assert_eq!(Literal::Null.render(), "null");
        assert_eq!(Literal::from(true).render(), "true");
        let id = SalesforceId::parse("001000000000001").unwrap();
        assert_eq!(Literal::from(&id).render(), "'001000000000001AAA'");
    }

    #[test]
    fn like_patterns_escape_wildcards_in_the_literal_part() {
        let c = Condition::like("Name", LikePattern::starts_with("50%_off's"));
        assert_eq!(c.render().unwrap(), r"Name LIKE '50\%\_off\'s%'");
    }

    #[test]
    fn select_builds_a_checked_statement() {
        let since = DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let q = Select::new(&["Id", "Name", "Account.Name"], "Opportunity")
            .filter(Condition::gt("SystemModstamp", since))
            .filter(Condition::eq("StageName", "Closed Won").or(Condition::eq("IsWon", true)))
            .filter(Condition::not_in("Name", ["a", "b"]))
            .order_by("SystemModstamp", Order::Asc)
            .limit(500)
            .build()
            .unwrap();
        assert_eq!(
            q.as_str(),
            "SELECT Id, Name, Account.Name FROM Opportunity WHERE SystemModstamp > 2026-02-01T00:00:00Z \
             AND (StageName = 'Closed Won' OR IsWon = true) AND Name NOT IN ('a','b') \
             ORDER BY SystemModstamp ASC LIMIT 500"
        );
    }

    #[test]
    fn bad_names_and_empty_lists_are_refused() {
        assert!(Select::new(&["Id; DELETE"], "Account").build().is_err());
        assert!(Select::new(&["Id"], "Account WHERE 1=1").build().is_err());
        assert!(Select::new::<&str>(&[], "Account").build().is_err());
        assert!(
            Select::new(&["Id"], "Account")
                .filter(Condition::is_in::<&str>("Id", []))
                .build()
                .is_err()
        );
        assert!(
            Select::new(&["Id"], "Account")
                .filter(Condition::eq("Name) OR (Id", "x"))
                .build()
                .is_err()
        );
        let negated = Condition::eq("IsDeleted", true).negate().render().unwrap();
        assert_eq!(negated, "NOT (IsDeleted = true)");
    }

    #[test]
    fn child_subqueries_render_inside_the_select_list() {
        let q = Select::new(&["Id", "Name", "Account.Name"], "Opportunity")
            .child(
                Select::new(
                    &["Id", "Quantity", "PricebookEntry.Product2.ProductCode"],
                    "OpportunityLineItems",
                )
                .filter(Condition::gt("Quantity", 0))
                .order_by("SortOrder", Order::Asc),
            )
            .child(Select::new(&["Id", "SBQQ__Primary__c"], "SBQQ__Quotes2__r"))
            .filter(Condition::eq("StageName", "Closed Won"))
            .build()
            .unwrap();
        assert_eq!(
            q.as_str(),
            "SELECT Id, Name, Account.Name, (SELECT Id, Quantity, PricebookEntry.Product2.ProductCode \
             FROM OpportunityLineItems WHERE Quantity > 0 ORDER BY SortOrder ASC), \
             (SELECT Id, SBQQ__Primary__c FROM SBQQ__Quotes2__r) FROM Opportunity \
             WHERE StageName = 'Closed Won'"
        );
        let nested = Select::new(&["Id"], "Account").child(
            Select::new(&["Id"], "Opportunities")
                .child(Select::new(&["Id"], "OpportunityLineItems")),
        );
        assert!(nested.build().is_err());
        let hostile = Select::new(&["Id"], "Account")
            .child(Select::new(&["Id"], "Contacts) FROM User WHERE (Id"));
        assert!(hostile.build().is_err());
    }

    #[test]
    fn aggregates_group_by_fields_and_date_functions() {
        let q = Select::new(&["AccountId"], "Opportunity")
            .date_column(DateFunction::CalendarMonth, "CloseDate")
            .aggregate(Aggregate::Sum, Some("Amount"), Some("booked"))
            .aggregate(Aggregate::Count, Some("Id"), None)
            .filter(Condition::eq("IsWon", true))
            .group_by("AccountId")
            .group_by_date(DateFunction::CalendarMonth, "CloseDate")
            .build()
            .unwrap();
        assert_eq!(
            q.as_str(),
            "SELECT AccountId, CALENDAR_MONTH(CloseDate), SUM(Amount) booked, COUNT(Id) \
             FROM Opportunity WHERE IsWon = true GROUP BY AccountId, CALENDAR_MONTH(CloseDate)"
        );
        let count = Select::new::<&str>(&[], "Account")
            .aggregate(Aggregate::Count, None, None)
            .build()
            .unwrap();
        assert_eq!(count.as_str(), "SELECT COUNT() FROM Account");
        let mixed = Select::new(&["Id"], "Account").aggregate(Aggregate::Count, None, None);
        assert!(mixed.build().is_err());
        let bad_alias = Select::new::<&str>(&[], "Opportunity").aggregate(
            Aggregate::Sum,
            Some("Amount"),
            Some("x FROM User --"),
        );
        assert!(bad_alias.build().is_err());
        let bad_group = Select::new(&["Name"], "Account").group_by("Name, (SELECT Id FROM User)");
        assert!(bad_group.build().is_err());
    }

    #[test]
    fn in_lists_work_on_any_field_and_keep_hostile_values_inside_literals() {
        let hostile = ["a@x.com", "x') OR Name != ('", "back\\slash", "new\nline"];
        let q = Select::new(&["Id", "Email"], "Contact")
            .filter(Condition::is_in("Email", hostile))
            .build()
            .unwrap();
        assert_eq!(
            q.as_str(),
            r"SELECT Id, Email FROM Contact WHERE Email IN ('a@x.com','x\') OR Name != (\'','back\\slash','new\nline')"
        );
        // A split statement puts the IN list after any filter, wrapped so AND binds right.
        let (head, tail) = Select::new(&["Id"], "Account")
            .filter(Condition::eq("Type", "A").or(Condition::eq("Type", "B")))
            .order_by("Name", Order::Asc)
            .render_around(Some("Intacct_Customer_ID__c"))
            .unwrap();
        assert_eq!(
            head,
            "SELECT Id FROM Account WHERE (Type = 'A' OR Type = 'B') AND Intacct_Customer_ID__c IN ("
        );
        assert_eq!(tail, ") ORDER BY Name ASC");
        assert!(
            Select::new(&["Id"], "Account")
                .render_around(Some("Name) OR (Id"))
                .is_err()
        );
    }
}
