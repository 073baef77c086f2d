//! Writing a tree: names checked, text escaped, characters XML cannot carry refused.

use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use crate::{XmlElement, XmlError};

/// Writes a whole document: declaration, then `root`. Names are checked and text escaped.
pub fn write_document(root: &XmlElement) -> Result<Vec<u8>, XmlError> {
    let mut w = Writer::new(Vec::new());
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .map_err(write_err)?;
    write_element(&mut w, root)?;
    Ok(w.into_inner())
}

pub(crate) fn fragment(el: &XmlElement) -> Result<String, XmlError> {
    let mut w = Writer::new(Vec::new());
    write_element(&mut w, el)?;
    String::from_utf8(w.into_inner()).map_err(|_| XmlError::NotUtf8)
}

fn write_err(e: std::io::Error) -> XmlError {
    XmlError::Write(e.to_string())
}

/// An XML name as we allow it: ASCII letters, digits, `_`, `-`, `.`; not starting with a digit,
/// `-` or `.`; no prefix. Intacct field and object names all fit; anything else is refused so
/// a field name from a mapping can never inject markup.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    name.len() <= 200 && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Refuses characters XML 1.0 cannot carry, even escaped: a receiving parser (the Intacct
/// gateway answers XL03000003) would refuse the whole document.
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
    let name = el.name();
    if !is_valid_name(name) {
        return Err(XmlError::InvalidName(name.to_owned()));
    }
    let mut start = BytesStart::new(name);
    for a in &el.attributes {
        if !is_valid_name(a.name.as_str()) {
            return Err(XmlError::InvalidName(a.name.as_str().to_owned()));
        }
        check_text(&a.value)?;
        start.push_attribute((a.name.as_str(), a.value.as_str()));
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
    w.write_event(Event::End(BytesEnd::new(name)))
        .map_err(write_err)
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
        assert_eq!(
            XmlElement::new("A").attr("b", "\u{1}").to_xml(),
            Err(XmlError::InvalidChar(1))
        );
    }
}
