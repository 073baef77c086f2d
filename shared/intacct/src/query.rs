//! Reading many records: the `query` function (select, filter, order, offset paging up to 2,000
//! rows a page) and the older `readByQuery` (a text condition, `readMore` paging by result id up
//! to 1,000 rows a page).

use crate::error::IntacctError;
use crate::function::field_list;
use crate::xml::XmlElement;

/// Largest `query` page the gateway accepts.
pub const QUERY_MAX_PAGE_SIZE: u32 = 2000;
/// Largest `readByQuery` page the gateway accepts.
pub const READ_BY_QUERY_MAX_PAGE_SIZE: u32 = 1000;

/// A comparison in a `query` filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    EqualTo,
    NotEqualTo,
    LessThan,
    LessThanOrEqualTo,
    GreaterThan,
    GreaterThanOrEqualTo,
    Like,
    NotLike,
}

impl Comparison {
    fn element(self) -> &'static str {
        match self {
            Comparison::EqualTo => "equalto",
            Comparison::NotEqualTo => "notequalto",
            Comparison::LessThan => "lessthan",
            Comparison::LessThanOrEqualTo => "lessthanorequalto",
            Comparison::GreaterThan => "greaterthan",
            Comparison::GreaterThanOrEqualTo => "greaterthanorequalto",
            Comparison::Like => "like",
            Comparison::NotLike => "notlike",
        }
    }
}

/// A `query` filter. Fields of related objects use dots (`CUSTOMER.CUSTOMERID`); values are
/// text as Intacct compares them (dates as `MM/DD/YYYY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Compare {
        op: Comparison,
        field: String,
        value: String,
    },
    Between {
        field: String,
        from: String,
        to: String,
    },
    In {
        field: String,
        values: Vec<String>,
        negate: bool,
    },
    Null {
        field: String,
        negate: bool,
    },
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

impl Filter {
    fn compare(op: Comparison, field: impl Into<String>, value: impl Into<String>) -> Self {
        Filter::Compare {
            op,
            field: field.into(),
            value: value.into(),
        }
    }

    /// `field` equals `value`.
    pub fn eq(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(Comparison::EqualTo, field, value)
    }

    /// `field` differs from `value`.
    pub fn ne(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(Comparison::NotEqualTo, field, value)
    }

    /// `field` is less than `value`.
    pub fn lt(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(Comparison::LessThan, field, value)
    }

    /// `field` is at most `value`.
    pub fn le(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(Comparison::LessThanOrEqualTo, field, value)
    }

    /// `field` is greater than `value`.
    pub fn gt(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(Comparison::GreaterThan, field, value)
    }

    /// `field` is at least `value`.
    pub fn ge(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self::compare(Comparison::GreaterThanOrEqualTo, field, value)
    }

    /// `field` matches a `%` pattern.
    pub fn like(field: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self::compare(Comparison::Like, field, pattern)
    }

    /// `field` lies between `from` and `to`, both included.
    pub fn between(
        field: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> Self {
        Filter::Between {
            field: field.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    /// `field` is one of `values`.
    pub fn is_in<I, S>(field: impl Into<String>, values: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Filter::In {
            field: field.into(),
            values: values.into_iter().map(Into::into).collect(),
            negate: false,
        }
    }

    /// `field` has no value.
    pub fn is_null(field: impl Into<String>) -> Self {
        Filter::Null {
            field: field.into(),
            negate: false,
        }
    }

    /// `field` has a value.
    pub fn is_not_null(field: impl Into<String>) -> Self {
        Filter::Null {
            field: field.into(),
            negate: true,
        }
    }

    /// All of `filters` hold.
    pub fn and(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::And(filters.into_iter().collect())
    }

    /// At least one of `filters` holds.
    pub fn or(filters: impl IntoIterator<Item = Filter>) -> Self {
        Filter::Or(filters.into_iter().collect())
    }

    fn to_element(&self) -> Result<XmlElement, IntacctError> {
        Ok(match self {
            Filter::Compare { op, field, value } => XmlElement::new(op.element())
                .child(XmlElement::with_text("field", field.as_str()))
                .child(XmlElement::with_text("value", value.as_str())),
            Filter::Between { field, from, to } => XmlElement::new("between")
                .child(XmlElement::with_text("field", field.as_str()))
                .child(XmlElement::with_text("value", from.as_str()))
                .child(XmlElement::with_text("value", to.as_str())),
            Filter::In {
                field,
                values,
                negate,
            } => {
                if values.is_empty() {
                    return Err(IntacctError::invalid(format!(
                        "an `in` filter on {field} needs at least one value"
                    )));
                }
                let mut el = XmlElement::new(if *negate { "notin" } else { "in" })
                    .child(XmlElement::with_text("field", field.as_str()));
                for v in values {
                    el.push(XmlElement::with_text("value", v.as_str()));
                }
                el
            }
            Filter::Null { field, negate } => {
                XmlElement::new(if *negate { "isnotnull" } else { "isnull" })
                    .child(XmlElement::with_text("field", field.as_str()))
            }
            Filter::And(parts) | Filter::Or(parts) => {
                let name = if matches!(self, Filter::And(_)) {
                    "and"
                } else {
                    "or"
                };
                match parts.as_slice() {
                    [] => {
                        return Err(IntacctError::invalid(format!(
                            "an `{name}` filter needs at least one condition"
                        )));
                    }
                    // The gateway wants two or more operands; one needs no wrapper.
                    [only] => only.to_element()?,
                    many => {
                        let mut el = XmlElement::new(name);
                        for p in many {
                            el.push(p.to_element()?);
                        }
                        el
                    }
                }
            }
        })
    }
}

/// Sort direction of a `query` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// A `query` function: select, filter, order, offset paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    object: String,
    select: Vec<String>,
    docparid: Option<String>,
    filter: Option<Filter>,
    order: Vec<(String, Direction)>,
    case_insensitive: bool,
    show_private: bool,
    page_size: u32,
}

impl Query {
    /// A query on `object` returning `select` (the gateway has no "all fields" for `query`).
    pub fn new<I, S>(object: impl Into<String>, select: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            object: object.into(),
            select: select.into_iter().map(Into::into).collect(),
            docparid: None,
            filter: None,
            order: Vec::new(),
            case_insensitive: false,
            show_private: false,
            page_size: QUERY_MAX_PAGE_SIZE,
        }
    }

    /// Only rows matching `filter`.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Sorts by `field` (repeat for secondary orders).
    pub fn order_by(mut self, field: impl Into<String>, direction: Direction) -> Self {
        self.order.push((field.into(), direction));
        self
    }

    /// The transaction definition (`Sales Order`, `Sales Invoice`) for Order Entry objects.
    pub fn docparid(mut self, docparid: impl Into<String>) -> Self {
        self.docparid = Some(docparid.into());
        self
    }

    /// Compares text case-insensitively.
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = yes;
        self
    }

    /// Reads private-entity records from the top level.
    pub fn show_private(mut self, yes: bool) -> Self {
        self.show_private = yes;
        self
    }

    /// Rows per page, 1 to 2,000 (checked when the query is sent).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// The object queried.
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The `<query>` element for the page starting at `offset`.
    pub(crate) fn to_element(&self, offset: u64) -> Result<XmlElement, IntacctError> {
        if self.select.is_empty() {
            return Err(IntacctError::invalid(format!(
                "query on {}: `select` needs at least one field",
                self.object
            )));
        }
        if !(1..=QUERY_MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(IntacctError::invalid(format!(
                "query on {}: page size {} is outside 1..={QUERY_MAX_PAGE_SIZE}",
                self.object, self.page_size
            )));
        }
        let mut select = XmlElement::new("select");
        for f in &self.select {
            select.push(XmlElement::with_text("field", f.as_str()));
        }
        let mut el = XmlElement::new("query")
            .child(select)
            .child(XmlElement::with_text("object", self.object.as_str()))
            .opt_text("docparid", self.docparid.as_deref());
        if let Some(f) = &self.filter {
            el.push(XmlElement::new("filter").child(f.to_element()?));
        }
        if !self.order.is_empty() {
            let mut orderby = XmlElement::new("orderby");
            for (field, dir) in &self.order {
                orderby.push(
                    XmlElement::new("order")
                        .child(XmlElement::with_text("field", field.as_str()))
                        .child(XmlElement::new(match dir {
                            Direction::Ascending => "ascending",
                            Direction::Descending => "descending",
                        })),
                );
            }
            el.push(orderby);
        }
        if self.case_insensitive || self.show_private {
            let mut options = XmlElement::new("options");
            if self.case_insensitive {
                options.push(XmlElement::with_text("caseinsensitive", "true"));
            }
            if self.show_private {
                options.push(XmlElement::with_text("showprivate", "true"));
            }
            el.push(options);
        }
        el.push(XmlElement::with_text(
            "pagesize",
            self.page_size.to_string(),
        ));
        el.push(XmlElement::with_text("offset", offset.to_string()));
        Ok(el)
    }
}

/// A `readByQuery` function: a text condition, all or some fields, `readMore` paging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadByQuery {
    object: String,
    query: String,
    fields: Vec<String>,
    docparid: Option<String>,
    page_size: u32,
}

impl ReadByQuery {
    /// All records of `object` matching `condition` (an empty condition matches all). Build
    /// conditions with [`quote`] so values are escaped the way the gateway expects.
    pub fn new(object: impl Into<String>, condition: impl Into<String>) -> Self {
        Self {
            object: object.into(),
            query: condition.into(),
            fields: Vec::new(),
            docparid: None,
            page_size: READ_BY_QUERY_MAX_PAGE_SIZE,
        }
    }

    /// Only these fields (default: all, `*`).
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fields = fields.into_iter().map(Into::into).collect();
        self
    }

    /// The transaction definition for Order Entry objects.
    pub fn docparid(mut self, docparid: impl Into<String>) -> Self {
        self.docparid = Some(docparid.into());
        self
    }

    /// Rows per page, 1 to 1,000 (checked when sent).
    pub fn page_size(mut self, size: u32) -> Self {
        self.page_size = size;
        self
    }

    /// The object read.
    pub fn object(&self) -> &str {
        &self.object
    }

    pub(crate) fn to_element(&self) -> Result<XmlElement, IntacctError> {
        if !(1..=READ_BY_QUERY_MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(IntacctError::invalid(format!(
                "readByQuery on {}: page size {} is outside 1..={READ_BY_QUERY_MAX_PAGE_SIZE}",
                self.object, self.page_size
            )));
        }
        Ok(XmlElement::new("readByQuery")
            .child(XmlElement::with_text("object", self.object.as_str()))
            .child(XmlElement::with_text("query", self.query.as_str()))
            .child(XmlElement::with_text("fields", field_list(&self.fields)))
            .child(XmlElement::with_text(
                "pagesize",
                self.page_size.to_string(),
            ))
            .child(XmlElement::with_text("returnFormat", "xml"))
            .opt_text("docparid", self.docparid.as_deref()))
    }
}

/// Quotes a value for a `readByQuery` condition: single quotes, with `'` and `\` escaped by a
/// backslash (`Jane's Deli` → `'Jane\'s Deli'`). XML escaping happens when the request is
/// written.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_written_in_sdk_order() {
        let q = Query::new("ARINVOICE", ["CUSTOMERID", "RECORDNO"])
            .filter(Filter::and([
                Filter::ge("RECORDNO", "1"),
                Filter::le("RECORDNO", "100"),
            ]))
            .order_by("TOTALDUE", Direction::Ascending)
            .order_by("RECORDNO", Direction::Descending)
            .case_insensitive(true)
            .page_size(10);
        assert_eq!(
            q.to_element(5).unwrap().to_xml().unwrap(),
            "<query><select><field>CUSTOMERID</field><field>RECORDNO</field></select><object>ARINVOICE</object>\
<filter><and><greaterthanorequalto><field>RECORDNO</field><value>1</value></greaterthanorequalto>\
<lessthanorequalto><field>RECORDNO</field><value>100</value></lessthanorequalto></and></filter>\
<orderby><order><field>TOTALDUE</field><ascending/></order><order><field>RECORDNO</field><descending/></order></orderby>\
<options><caseinsensitive>true</caseinsensitive></options><pagesize>10</pagesize><offset>5</offset></query>"
        );
    }

    #[test]
    fn every_filter_shape_is_written() {
        let f = Filter::or([
            Filter::between("WHENDUE", "10/01/2019", "10/31/2019"),
            Filter::is_in("STATE", ["A", "D"]),
            Filter::is_not_null("SFDC_OPPORTUNITY_ID"),
            Filter::and([Filter::like("NAME", "Ac%")]),
        ]);
        assert_eq!(
            f.to_element().unwrap().to_xml().unwrap(),
            "<or><between><field>WHENDUE</field><value>10/01/2019</value><value>10/31/2019</value></between>\
<in><field>STATE</field><value>A</value><value>D</value></in>\
<isnotnull><field>SFDC_OPPORTUNITY_ID</field></isnotnull>\
<like><field>NAME</field><value>Ac%</value></like></or>"
        );
        assert!(
            Filter::is_in("X", Vec::<String>::new())
                .to_element()
                .is_err()
        );
        assert!(Filter::and([]).to_element().is_err());
    }

    #[test]
    fn page_sizes_are_bounded() {
        let q = Query::new("CUSTOMER", ["RECORDNO"]);
        assert!(q.clone().page_size(2000).to_element(0).is_ok());
        assert!(q.clone().page_size(2001).to_element(0).is_err());
        assert!(q.page_size(0).to_element(0).is_err());
        assert!(
            Query::new("CUSTOMER", Vec::<String>::new())
                .to_element(0)
                .is_err()
        );
        let r = ReadByQuery::new("CLASS", "");
        assert!(r.clone().page_size(1000).to_element().is_ok());
        assert!(r.page_size(1001).to_element().is_err());
    }

    #[test]
    fn read_by_query_is_written_like_the_sdk() {
        let r = ReadByQuery::new("CLASS", "RECORDNO < 2");
        assert_eq!(
            r.to_element().unwrap().to_xml().unwrap(),
            "<readByQuery><object>CLASS</object><query>RECORDNO &lt; 2</query><fields>*</fields>\
<pagesize>1000</pagesize><returnFormat>xml</returnFormat></readByQuery>"
        );
    }

    #[test]
    fn quote_escapes_quotes_and_backslashes() {
        assert_eq!(quote("Jane's Deli"), r"'Jane\'s Deli'");
        assert_eq!(quote(r"a\b"), r"'a\\b'");
    }
}
