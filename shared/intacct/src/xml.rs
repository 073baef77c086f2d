//! The XML the gateway exchanges, as a small element tree: one writer for requests and one
//! hardened reader for responses.
//!
//! The reader refuses DTDs and any entity other than the five predefined ones and character
//! references, so a hostile or broken response cannot expand entities, fetch external resources
//! or blow the stack; it also bounds nesting depth and element count.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::Writer;
use quick_xml::escape::{partial_escape, resolve_predefined_entity};
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// How deep a response may nest. Intacct responses are about ten levels deep; records with
/// nested contacts and lines add a few.
const MAX_DEPTH: usize = 64;
/// Upper bound on elements in one response: 2,000 rows of a few hundred fields each.
const MAX_ELEMENTS: usize = 4_000_000;

/// Why XML could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("document is not UTF-8")]
    NotUtf8,
    #[error("document type declarations (DOCTYPE) are refused")]
    DocType,
    #[error("entity &{0}; is not one of the predefined XML entities; custom entities are refused")]
    UnknownEntity(String),
    #[error("elements nest deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("document has more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("document has no root element")]
    NoRoot,
    #[error("document has content after its root element")]
    TrailingContent,
    #[error("document ends inside element <{0}>")]
    Unterminated(String),
    #[error("not well-formed XML at byte {position}: {message}")]
    Syntax { position: u64, message: String },
    #[error("{0:?} is not a valid XML element or attribute name")]
    InvalidName(String),
    #[error("text contains the character U+{0:04X}, which XML 1.0 cannot carry")]
    InvalidChar(u32),
    #[error("writing XML failed: {0}")]
    Write(String),
}

/// An element: name, attributes, text and children. Requests are built from these and
/// responses are read into them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlElement {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
    children: Vec<XmlElement>,
}

impl XmlElement {
    /// An element with no content (`<NAME/>`). The name is checked when the element is written.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// An element holding text (`<NAME>text</NAME>`).
    pub fn with_text(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            ..Self::default()
        }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push((name.into(), value.into()));
        self
    }

    /// Adds a child (builder style).
    pub fn child(mut self, child: XmlElement) -> Self {
        self.children.push(child);
        self
    }

    /// Adds a text child when the value is present (builder style).
    pub fn opt_text(mut self, name: &str, value: Option<impl Into<String>>) -> Self {
        if let Some(v) = value {
            self.children.push(XmlElement::with_text(name, v));
        }
        self
    }

    /// Appends a child in place.
    pub fn push(&mut self, child: XmlElement) {
        self.children.push(child);
    }

    /// The element name as written.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The element's own text (character data directly inside it), untrimmed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The child elements in document order.
    pub fn children(&self) -> &[XmlElement] {
        &self.children
    }

    /// The attributes in document order.
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// Whether the element has neither children nor non-blank text.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.text.trim().is_empty()
    }

    /// An attribute by name, compared case-insensitively (`resultId` vs `resultid`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first child with this name, compared case-insensitively: Intacct writes the same
    /// element in upper case in `read` results and lower case in `readByQuery` results.
    pub fn find(&self, name: &str) -> Option<&XmlElement> {
        self.children
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// All children with this name (case-insensitive).
    pub fn find_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a XmlElement> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// The trimmed text of the first child with this name; `None` when absent or blank.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.find(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Removes and returns the first child with this name (case-insensitive): readers take a
    /// response apart instead of copying its records.
    pub(crate) fn take(&mut self, name: &str) -> Option<XmlElement> {
        let at = self
            .children
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))?;
        Some(self.children.remove(at))
    }

    /// The child elements, by value.
    pub(crate) fn into_children(self) -> Vec<XmlElement> {
        self.children
    }

    /// Follows a path of child names (`["DISPLAYCONTACT", "MAILADDRESS", "CITY"]`).
    pub fn path(&self, names: &[&str]) -> Option<&XmlElement> {
        names.iter().try_fold(self, |el, n| el.find(n))
    }

    /// Writes the element as a standalone fragment, without declaration.
    pub fn to_xml(&self) -> Result<String, XmlError> {
        let mut w = Writer::new(Vec::new());
        write_element(&mut w, self)?;
        String::from_utf8(w.into_inner()).map_err(|_| XmlError::NotUtf8)
    }
}

/// Writes a whole document: declaration, then `root`. Names are checked and text escaped.
pub(crate) fn write_document(root: &XmlElement) -> Result<Vec<u8>, XmlError> {
    let mut w = Writer::new(Vec::new());
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(write_err)?;
    write_element(&mut w, root)?;
    Ok(w.into_inner())
}

fn write_err(e: std::io::Error) -> XmlError {
    XmlError::Write(e.to_string())
}

/// An XML name as we allow it: ASCII letters, digits, `_`, `-`, `.`; not starting with a digit,
/// `-` or `.`. Intacct field and object names all fit; anything else is refused so a field name
/// from a mapping can never inject markup.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    name.len() <= 200 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Refuses characters XML 1.0 cannot carry, even escaped: the gateway would answer with a
/// parse error (XL03000003) for the whole request.
fn check_text(text: &str) -> Result<(), XmlError> {
    match text
        .chars()
        .find(|&c| matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}'))
    {
        Some(c) => Err(XmlError::InvalidChar(c as u32)),
        None => Ok(()),
    }
}

fn write_element(w: &mut Writer<Vec<u8>>, el: &XmlElement) -> Result<(), XmlError> {
    if !is_valid_name(&el.name) {
        return Err(XmlError::InvalidName(el.name.clone()));
    }
    let mut start = BytesStart::new(el.name.as_str());
    for (k, v) in &el.attributes {
        if !is_valid_name(k) {
            return Err(XmlError::InvalidName(k.clone()));
        }
        check_text(v)?;
        start.push_attribute((k.as_str(), v.as_str()));
    }
    if el.children.is_empty() && el.text.is_empty() {
        return w.write_event(Event::Empty(start)).map_err(write_err);
    }
    w.write_event(Event::Start(start)).map_err(write_err)?;
    if el.children.is_empty() {
        check_text(&el.text)?;
        // Like the SDKs, escape only what text needs (`&`, `<`, `>`); quotes stay as they are.
        w.write_event(Event::Text(BytesText::from_escaped(partial_escape(
            el.text.as_str(),
        ))))
        .map_err(write_err)?;
    } else {
        for c in &el.children {
            write_element(w, c)?;
        }
    }
    w.write_event(Event::End(BytesEnd::new(el.name.as_str())))
        .map_err(write_err)
}

/// Reads a document into its root element, refusing DTDs and custom entities.
pub fn parse_document(bytes: &[u8]) -> Result<XmlElement, XmlError> {
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::NotUtf8)?;
    // A UTF-8 byte order mark is legal before the declaration.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;

    let mut stack: Vec<XmlElement> = Vec::new();
    let mut root: Option<XmlElement> = None;
    let mut count = 0usize;

    let syntax = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| XmlError::Syntax {
        position: reader.buffer_position(),
        message: e.to_string(),
    };

    loop {
        let event = reader.read_event().map_err(|e| syntax(&reader, &e))?;
        match event {
            Event::DocType(_) => return Err(XmlError::DocType),
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::TrailingContent);
            }
            Event::Start(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                stack.push(open(&reader, &start)?);
            }
            Event::Empty(start) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(XmlError::TooManyElements);
                }
                let el = open(&reader, &start)?;
                close(&mut stack, &mut root, el);
            }
            Event::End(_) => match stack.pop() {
                Some(el) => close(&mut stack, &mut root, el),
                None => return Err(syntax(&reader, &"unexpected closing tag")),
            },
            Event::Text(t) => {
                let content = t.xml10_content();
                append_text(&reader, &mut stack, &content)?;
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                append_text(&reader, &mut stack, &raw)?;
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref().map_err(|e| syntax(&reader, &e))? {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => return Err(XmlError::UnknownEntity(r.to_string())),
                    }
                } else {
                    match resolve_predefined_entity(&r) {
                        Some(s) => Cow::Borrowed(s),
                        None => return Err(XmlError::UnknownEntity(r.to_string())),
                    }
                };
                append_text(&reader, &mut stack, &resolved)?;
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.pop() {
        return Err(XmlError::Unterminated(open.name));
    }
    root.ok_or(XmlError::NoRoot)
}

fn open(reader: &Reader<&[u8]>, start: &BytesStart<'_>) -> Result<XmlElement, XmlError> {
    let name = start.name().as_ref().to_owned();
    let mut el = XmlElement::new(name);
    for attr in start.attributes() {
        let attr = attr.map_err(|e| XmlError::Syntax {
            position: reader.buffer_position(),
            message: e.to_string(),
        })?;
        let key = attr.key.as_ref().to_owned();
        // Attribute values may only use the predefined entities and character references;
        // anything else is refused by the resolver, exactly as in text.
        let value = attr
            .normalized_value_with(quick_xml::XmlVersion::Implicit1_0, 1, |name| {
                resolve_predefined_entity(name)
            })
            .map_err(|e| match e {
                quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                    _,
                    name,
                )) => XmlError::UnknownEntity(name),
                other => XmlError::Syntax {
                    position: reader.buffer_position(),
                    message: other.to_string(),
                },
            })?
            .into_owned();
        el.attributes.push((key, value));
    }
    Ok(el)
}

fn close(stack: &mut [XmlElement], root: &mut Option<XmlElement>, el: XmlElement) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn append_text(
    reader: &Reader<&[u8]>,
    stack: &mut [XmlElement],
    text: &str,
) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        // Whitespace between the declaration, comments and the root is fine; anything else
        // outside the root is not XML.
        None if text.trim().is_empty() => Ok(()),
        None => Err(XmlError::Syntax {
            position: reader.buffer_position(),
            message: "text outside the root element".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_escaped_text_and_empty_elements() {
        let el = XmlElement::new("create").child(
            XmlElement::new("CUSTOMER")
                .child(XmlElement::with_text("NAME", "Smith & <Sons> \"Ltd\" 'x'"))
                .child(XmlElement::new("EMAIL1")),
        );
        assert_eq!(
            el.to_xml().unwrap(),
            "<create><CUSTOMER><NAME>Smith &amp; &lt;Sons&gt; \"Ltd\" 'x'</NAME><EMAIL1/></CUSTOMER></create>"
        );
    }

    #[test]
    fn refuses_bad_names_and_control_characters() {
        for bad in ["", "1ABC", "A B", "A<B", "x:y", "-a"] {
            assert_eq!(
                XmlElement::new(bad).to_xml(),
                Err(XmlError::InvalidName(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert_eq!(
            XmlElement::with_text("A", "bell\u{7}").to_xml(),
            Err(XmlError::InvalidChar(7))
        );
        assert_eq!(
            XmlElement::new("A").attr("b c", "1").to_xml(),
            Err(XmlError::InvalidName("b c".into()))
        );
    }

    #[test]
    fn round_trips_text_through_writer_and_reader() {
        let original = XmlElement::new("r")
            .attr("a", "x&y\"z")
            .child(XmlElement::with_text("t", "1 < 2 & 3 > 2 'q' \"d\" é 日本"));
        let bytes = write_document(&original).unwrap();
        let parsed = parse_document(&bytes).unwrap();
        assert_eq!(parsed, original);
    }

    #[test]
    fn reads_entities_char_refs_and_cdata() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<a x="&#039;q&#039;"><b>it&#039;s &amp; &lt;ok&gt; &#x263A;</b><c><![CDATA[<raw & text>]]></c></a>"#;
        let a = parse_document(doc).unwrap();
        assert_eq!(a.attribute("X"), Some("'q'"));
        assert_eq!(a.field("b"), Some("it's & <ok> ☺"));
        assert_eq!(a.field("C"), Some("<raw & text>"));
    }

    #[test]
    fn refuses_doctype_and_entity_expansion() {
        let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<response>&lol2;</response>"#;
        assert_eq!(parse_document(billion_laughs), Err(XmlError::DocType));
        let external = br#"<!DOCTYPE r SYSTEM "http://example.invalid/evil.dtd"><r/>"#;
        assert_eq!(parse_document(external), Err(XmlError::DocType));
        // Undeclared entity without a DTD: refused, not silently dropped.
        assert_eq!(
            parse_document(b"<r>&xxe;</r>"),
            Err(XmlError::UnknownEntity("xxe".into()))
        );
        assert_eq!(
            parse_document(b"<r a=\"&xxe;\"/>"),
            Err(XmlError::UnknownEntity("xxe".into()))
        );
    }

    #[test]
    fn refuses_malformed_documents() {
        assert!(matches!(
            parse_document(b"<a><b></a>"),
            Err(XmlError::Syntax { .. })
        ));
        assert_eq!(
            parse_document(b"<a><b>"),
            Err(XmlError::Unterminated("b".into()))
        );
        assert_eq!(parse_document(b""), Err(XmlError::NoRoot));
        assert_eq!(parse_document(b"   "), Err(XmlError::NoRoot));
        assert_eq!(parse_document(b"<a/><b/>"), Err(XmlError::TrailingContent));
        assert!(matches!(
            parse_document(b"junk<a/>"),
            Err(XmlError::Syntax { .. })
        ));
        assert_eq!(parse_document(&[0xff, 0xfe, 0x00]), Err(XmlError::NotUtf8));
        let deep = "<a>".repeat(MAX_DEPTH + 1) + &"</a>".repeat(MAX_DEPTH + 1);
        assert_eq!(parse_document(deep.as_bytes()), Err(XmlError::TooDeep));
    }

    #[test]
    fn lookups_are_case_insensitive() {
        let doc = b"<customer><CUSTOMERID> C1 </CUSTOMERID><DisplayContact><MAILADDRESS><city>Paris</city></MAILADDRESS></DisplayContact><EMPTY/></customer>";
        let c = parse_document(doc).unwrap();
        assert_eq!(c.field("customerid"), Some("C1"));
        assert_eq!(
            c.path(&["DISPLAYCONTACT", "mailaddress", "CITY"])
                .map(XmlElement::text),
            Some("Paris")
        );
        assert_eq!(c.field("EMPTY"), None);
        assert!(c.find("EMPTY").is_some());
    }
}
