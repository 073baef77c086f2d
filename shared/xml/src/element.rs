//! The element tree and its lookups.

use crate::XmlError;

/// A name as written (`xsi:type`, `soapenv:Envelope`, `CUSTOMER`) and the namespace URI
/// its prefix (or, for elements, the default namespace) resolves to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlName {
    pub(crate) written: String,
    pub(crate) namespace: Option<String>,
}

impl XmlName {
    /// The name as written, prefix included.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// The name without its prefix (`type`, `Envelope`).
    pub fn local(&self) -> &str {
        self.written
            .rsplit_once(':')
            .map_or(self.written.as_str(), |(_, local)| local)
    }

    /// The namespace URI; `None` for a name in no namespace (as every unprefixed attribute
    /// is, the Namespaces spec says).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// Whether this is `{namespace}local`: the way to match SOAP names, whatever prefix the
    /// sender chose.
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.namespace() == Some(namespace) && self.local() == local
    }
}

/// An attribute: its name and its value with references resolved and whitespace
/// normalized as XML 1.0 prescribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlAttribute {
    pub(crate) name: XmlName,
    pub(crate) value: String,
}

impl XmlAttribute {
    /// The attribute's name and namespace.
    pub fn name(&self) -> &XmlName {
        &self.name
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// An element: name, namespace, attributes, text and children. Requests are built from these
/// and responses are read into them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlElement {
    pub(crate) name: XmlName,
    pub(crate) attributes: Vec<XmlAttribute>,
    pub(crate) text: String,
    pub(crate) children: Vec<XmlElement>,
}

fn unqualified(name: impl Into<String>) -> XmlName {
    XmlName {
        written: name.into(),
        namespace: None,
    }
}

impl XmlElement {
    /// An element with no content (`<NAME/>`). The name is checked when the element is written.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: unqualified(name),
            ..Self::default()
        }
    }

    /// An element holding text (`<NAME>text</NAME>`).
    pub fn with_text(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: unqualified(name),
            text: text.into(),
            ..Self::default()
        }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attributes.push(XmlAttribute {
            name: unqualified(name),
            value: value.into(),
        });
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

    /// The element name as written, prefix included (`soapenv:Envelope`).
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The element's name and namespace: [`XmlName::local`], [`XmlName::namespace`].
    pub fn qualified_name(&self) -> &XmlName {
        &self.name
    }

    /// Whether the element is `{namespace}local` ([`XmlName::is`]).
    pub fn is(&self, namespace: &str, local: &str) -> bool {
        self.name.is(namespace, local)
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
    pub fn attributes(&self) -> &[XmlAttribute] {
        &self.attributes
    }

    /// Whether the element has neither children nor non-blank text.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty() && self.text.trim().is_empty()
    }

    /// An attribute by its name as written, compared case-insensitively (`resultId` vs
    /// `resultid`).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.as_str().eq_ignore_ascii_case(name))
            .map(|a| a.value.as_str())
    }

    /// An attribute by namespace and local name (`xsi:nil` under any prefix).
    pub fn attribute_ns(&self, namespace: &str, local: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name.is(namespace, local))
            .map(|a| a.value.as_str())
    }

    /// The first child with this name as written, compared case-insensitively: Intacct
    /// writes the same element in upper case in `read` results and lower case in
    /// `readByQuery` results.
    pub fn find(&self, name: &str) -> Option<&XmlElement> {
        self.children
            .iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// All children with this name (case-insensitive).
    pub fn find_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a XmlElement> + 'a {
        self.children
            .iter()
            .filter(move |c| c.name().eq_ignore_ascii_case(name))
    }

    /// The first child that [`is`](Self::is) `{namespace}local` (exact, as namespaces are).
    pub fn find_ns(&self, namespace: &str, local: &str) -> Option<&XmlElement> {
        self.children.iter().find(|c| c.is(namespace, local))
    }

    /// All children that are `{namespace}local`.
    pub fn find_all_ns<'a>(
        &'a self,
        namespace: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = &'a XmlElement> + 'a {
        self.children.iter().filter(move |c| c.is(namespace, local))
    }

    /// The trimmed text of the first child with this name; `None` when absent or blank.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.find(name)
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// Removes and returns the first child with this name (case-insensitive): readers take a
    /// response apart instead of copying its records.
    pub fn take(&mut self, name: &str) -> Option<XmlElement> {
        let at = self
            .children
            .iter()
            .position(|c| c.name().eq_ignore_ascii_case(name))?;
        Some(self.children.remove(at))
    }

    /// The child elements, by value.
    pub fn into_children(self) -> Vec<XmlElement> {
        self.children
    }

    /// Follows a path of child names (`["DISPLAYCONTACT", "MAILADDRESS", "CITY"]`).
    pub fn path(&self, names: &[&str]) -> Option<&XmlElement> {
        names.iter().try_fold(self, |el, n| el.find(n))
    }

    /// Writes the element as a standalone fragment, without declaration.
    pub fn to_xml(&self) -> Result<String, XmlError> {
        crate::write::fragment(self)
    }
}
