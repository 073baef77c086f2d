//! A small XML tree: what the gateway parses requests into, stores records as, and writes
//! responses from. Public so tests can read responses with the same DTD-free parser.
//!
//! Parsing refuses DOCTYPE declarations and every entity reference other than the five
//! predefined ones and character references, so no DTD is ever read and nothing expands
//! (DESIGN.md §4, Security). Nesting depth is capped so a hostile body cannot exhaust the stack.

use std::fmt::Write as _;

use quick_xml::Reader;
use quick_xml::events::Event;

/// Deeper than any gateway request needs (a customer's MAILADDRESS sits at depth 8).
const MAX_DEPTH: usize = 64;

/// One element: name, attributes, child elements and its text (mixed content is concatenated).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    /// Tag name, as written.
    pub name: String,
    /// Attributes in document order, values unescaped.
    pub attrs: Vec<(String, String)>,
    /// Child elements in document order.
    pub children: Vec<Element>,
    /// Text content (entity and character references resolved), not trimmed.
    pub text: String,
}

/// Why a body is not well-formed XML, with where it went wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}. Line: {line}, column: {column}")]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column of the problem.
    pub column: usize,
}

impl Element {
    /// An empty element.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// A leaf holding `text`.
    pub fn leaf(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            ..Self::default()
        }
    }

    /// Adds an attribute.
    pub fn with_attr(mut self, name: &str, value: impl Into<String>) -> Self {
        self.attrs.push((name.to_owned(), value.into()));
        self
    }

    /// Appends a child.
    pub fn with_child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `name` (exact case).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first child named `name`, to change it.
    pub fn child_mut(&mut self, name: &str) -> Option<&mut Element> {
        self.children.iter_mut().find(|c| c.name == name)
    }

    /// Children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of the child `name`, if the child exists.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Trimmed text of the child `name`, `None` when absent or empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.text_of(name).filter(|t| !t.is_empty())
    }

    /// Follows a dotted path of child names (`DISPLAYCONTACT.MAILADDRESS.CITY`).
    pub fn path(&self, path: &str) -> Option<&Element> {
        path.split('.').try_fold(self, |el, part| el.child(part))
    }

    /// Sets the text of the child `name`, appending the child if it is missing.
    pub fn set(&mut self, name: &str, text: impl Into<String>) {
        let text = text.into();
        match self.child_mut(name) {
            Some(c) => {
                c.text = text;
                c.children.clear();
            }
            None => self.children.push(Element::leaf(name, text)),
        }
    }

    /// Replaces the child with the same name, or appends it.
    pub fn replace_child(&mut self, child: Element) {
        match self.children.iter_mut().find(|c| c.name == child.name) {
            Some(slot) => *slot = child,
            None => self.children.push(child),
        }
    }

    /// Removes every child named `name`.
    pub fn remove(&mut self, name: &str) {
        self.children.retain(|c| c.name != name);
    }

    /// The text value of a field, looked up by dotted path; empty when absent.
    pub fn value(&self, path: &str) -> &str {
        self.path(path).map(|e| e.text.trim()).unwrap_or("")
    }

    /// Writes the element as XML; `pretty` indents by two spaces per level.
    pub fn write(&self, pretty: bool, out: &mut String) {
        self.write_at(pretty, 0, out);
    }

    fn write_at(&self, pretty: bool, depth: usize, out: &mut String) {
        if pretty {
            indent(out, depth);
        }
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            let _ = write!(out, " {k}=\"{}\"", quick_xml::escape::escape(v.as_str()));
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
        } else if self.children.is_empty() {
            out.push('>');
            out.push_str(&quick_xml::escape::escape(self.text.as_str()));
            let _ = write!(out, "</{}>", self.name);
        } else {
            out.push('>');
            for c in &self.children {
                c.write_at(pretty, depth + 1, out);
            }
            if pretty {
                indent(out, depth);
            }
            let _ = write!(out, "</{}>", self.name);
        }
    }
}

fn indent(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// Parses one XML document into its root element.
pub fn parse(xml: &str) -> Result<Element, ParseError> {
    let mut reader = Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let fail = |pos: u64, message: String| {
        let (line, column) = line_col(xml, pos);
        ParseError {
            message,
            line,
            column,
        }
    };
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| fail(reader.error_position(), e.to_string()))?;
        match event {
            Event::Start(start) | Event::Empty(start) if root.is_some() => {
                let name = start.name().as_ref().to_owned();
                return Err(fail(
                    pos,
                    format!("Extra content at the end of the document: <{name}>"),
                ));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(fail(
                        pos,
                        format!("Elements nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
                stack.push(open(&start).map_err(|m| fail(pos, m))?);
            }
            Event::Empty(start) => {
                let el = open(&start).map_err(|m| fail(pos, m))?;
                close(el, &mut stack, &mut root);
            }
            Event::End(_) => {
                // check_end_names already guaranteed the name matches.
                if let Some(el) = stack.pop() {
                    close(el, &mut stack, &mut root);
                }
            }
            Event::Text(text) => {
                let content = text.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(fail(pos, "Text outside the document element".into())),
                }
            }
            Event::CData(data) => {
                let content = data.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None => return Err(fail(pos, "CDATA outside the document element".into())),
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|e| fail(pos, e.to_string()))?
                        .map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&reference.xml10_content())
                        .map(str::to_owned)
                };
                let Some(resolved) = resolved else {
                    return Err(fail(
                        pos,
                        format!("Entity '{}' not defined", reference.xml10_content()),
                    ));
                };
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&resolved),
                    None => return Err(fail(pos, "Reference outside the document element".into())),
                }
            }
            Event::DocType(_) => {
                return Err(fail(pos, "DOCTYPE declarations are not allowed".into()));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(fail(
            xml.len() as u64,
            format!("Premature end of data in tag {}", open.name),
        ));
    }
    root.ok_or_else(|| fail(0, "Document is empty".into()))
}

fn open(start: &quick_xml::events::BytesStart<'_>) -> Result<Element, String> {
    let name = start.name().as_ref().to_owned();
    let mut el = Element::new(name);
    for attr in start.attributes() {
        let attr = attr.map_err(|e| e.to_string())?;
        let key = attr.key.as_ref().to_owned();
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("attribute {key}: {e}"))?
            .into_owned();
        el.attrs.push((key, value));
    }
    Ok(el)
}

fn close(el: Element, stack: &mut [Element], root: &mut Option<Element>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}

fn line_col(xml: &str, pos: u64) -> (usize, usize) {
    let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(xml.len());
    let before = xml.get(..pos).unwrap_or(xml);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
