//! The YAML layer. A spec file is loaded with `saphyr` into a tree that keeps the line and column
//! of every node, then the typed spec structs are deserialized from that tree with serde.
//!
//! Why not deserialize straight from a YAML stream: a streaming deserializer stops at the first
//! error, and a finance admin who made four mistakes wants to see four messages. Deserializing
//! from a tree lets this layer (1) check every key of a struct against the struct's own field list
//! and report each unknown key, (2) keep going after a broken list item or map entry (see
//! [`Located`]), and (3) know the position of every node by its path, which the compile step uses
//! to place its own errors.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde::de::Error as _;
use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, VariantAccess,
    Visitor,
};
use serde::{Deserialize, Deserializer};

use crate::suggest::did_you_mean;

/// A position in a spec file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A scalar as resolved by the YAML 1.2 core schema, with the text as written (so a string
/// field given `00123` gets `"00123"`, not `123`).
#[derive(Debug, Clone)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug)]
pub(crate) struct Node {
    pos: Pos,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Scalar { value: Scalar, text: String },
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug)]
struct Entry {
    key: String,
    key_pos: Pos,
    value: Node,
}

/// A loaded file: the tree and the position of every node by its path.
#[derive(Debug)]
pub(crate) struct Document {
    root: Option<Node>,
    positions: HashMap<String, Pos>,
}

/// A structural problem found while loading: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawDiag {
    pub path: String,
    pub pos: Pos,
    pub message: String,
}

impl Document {
    /// Parses one YAML document. Syntax errors (including duplicate keys, which YAML forbids)
    /// come back with their position.
    pub(crate) fn parse(text: &str) -> Result<Document, RawDiag> {
        let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| RawDiag {
            path: String::new(),
            pos: Pos {
                line: saturate(e.marker().line()),
                column: saturate(e.marker().col() + 1),
            },
            message: format!("YAML syntax: {}", e.info()),
        })?;
        if docs.len() > 1 {
            return Err(RawDiag {
                path: String::new(),
                pos: pos_of(&docs[1]),
                message: "a spec file holds one YAML document; remove the extra `---`".into(),
            });
        }
        let chars = CharIndex::new(text);
        let root = match docs.into_iter().next() {
            None => None,
            Some(doc) => Some(convert(doc, text, &chars)?),
        };
        let mut positions = HashMap::new();
        if let Some(root) = &root {
            positions.insert(String::new(), root.pos);
            index_positions(root, "", &mut positions);
        }
        Ok(Document { root, positions })
    }

    /// The position of the node at `path`, or of its nearest ancestor that exists (a missing
    /// key is reported where its parent is).
    pub(crate) fn pos(&self, path: &str) -> Pos {
        let mut p = path;
        loop {
            if let Some(pos) = self.positions.get(p) {
                return *pos;
            }
            match parent_path(p) {
                Some(parent) => p = parent,
                None => return Pos { line: 1, column: 1 },
            }
        }
    }

    /// Deserializes the whole document. Every problem is returned; the value is `None` only when
    /// the top level itself could not be built.
    pub(crate) fn deserialize<T: de::DeserializeOwned>(&self) -> (Option<T>, Vec<RawDiag>) {
        let Some(root) = &self.root else {
            let diag = RawDiag {
                path: String::new(),
                pos: Pos { line: 1, column: 1 },
                message: "the file is empty".into(),
            };
            return (None, vec![diag]);
        };
        let _guard = Recorder::install();
        let result = T::deserialize(De {
            node: root,
            path: String::new(),
        });
        let value = match result {
            Ok(v) => Some(v),
            Err(e) => {
                Recorder::record(e.path.unwrap_or_default(), e.message);
                None
            }
        };
        let mut diags: Vec<RawDiag> = Recorder::take()
            .into_iter()
            .map(|(path, message)| RawDiag {
                pos: self.pos(&path),
                path,
                message,
            })
            .collect();
        diags.sort_by_key(|a| a.pos);
        diags.dedup();
        (value, diags)
    }
}

/// The parent of `a.b[2].c` is `a.b[2]`, of `a.b[2]` is `a.b`, of `a` is the root ``.
pub(crate) fn parent_path(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind(['.', '[']).unwrap_or(0);
    Some(&path[..cut])
}

/// `parent.key`, or `key` at the root.
pub(crate) fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

fn saturate(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn pos_of(node: &MarkedYamlOwned) -> Pos {
    Pos {
        line: saturate(node.span.start.line()),
        column: saturate(node.span.start.col() + 1),
    }
}

/// Maps saphyr's character offsets to byte offsets, to slice the text of plain scalars.
struct CharIndex(Vec<usize>);

impl CharIndex {
    fn new(text: &str) -> Self {
        let mut v: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        v.push(text.len());
        CharIndex(v)
    }

    fn slice<'t>(&self, text: &'t str, start: usize, end: usize) -> Option<&'t str> {
        let s = *self.0.get(start)?;
        let e = *self.0.get(end)?;
        text.get(s..e)
    }
}

fn convert(node: MarkedYamlOwned, text: &str, chars: &CharIndex) -> Result<Node, RawDiag> {
    let pos = pos_of(&node);
    let err = |message: String| RawDiag {
        path: String::new(),
        pos,
        message,
    };
    let kind = match node.data {
        YamlDataOwned::Value(scalar) => {
            let value = match scalar {
                ScalarOwned::Null => Scalar::Null,
                ScalarOwned::Boolean(b) => Scalar::Bool(b),
                ScalarOwned::Integer(i) => Scalar::Int(i),
                ScalarOwned::FloatingPoint(f) => Scalar::Float(f.into_inner()),
                ScalarOwned::String(s) => Scalar::Str(s),
            };
            let text = match &value {
                Scalar::Str(s) => s.clone(),
                // Non-string scalars are always plain: their source text is exactly the span.
                _ => chars
                    .slice(text, node.span.start.index(), node.span.end.index())
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default(),
            };
            Kind::Scalar { value, text }
        }
        YamlDataOwned::Representation(raw, _, _) => Kind::Scalar {
            value: Scalar::Str(raw.clone()),
            text: raw,
        },
        YamlDataOwned::Sequence(items) => Kind::Seq(
            items
                .into_iter()
                .map(|n| convert(n, text, chars))
                .collect::<Result<_, _>>()?,
        ),
        YamlDataOwned::Mapping(map) => {
            let mut entries = Vec::with_capacity(map.len());
            for (k, v) in map {
                let key_pos = pos_of(&k);
                let key = match k.data {
                    YamlDataOwned::Value(ScalarOwned::String(s)) => s,
                    YamlDataOwned::Value(ScalarOwned::Null) => {
                        return Err(RawDiag {
                            path: String::new(),
                            pos: key_pos,
                            message: "a key is empty".into(),
                        });
                    }
                    YamlDataOwned::Value(_) => chars
                        .slice(text, k.span.start.index(), k.span.end.index())
                        .map(|s| s.trim().to_owned())
                        .unwrap_or_default(),
                    _ => {
                        return Err(RawDiag {
                            path: String::new(),
                            pos: key_pos,
                            message: "keys must be plain text, not lists or maps".into(),
                        });
                    }
                };
                entries.push(Entry {
                    key,
                    key_pos,
                    value: convert(v, text, chars)?,
                });
            }
            Kind::Map(entries)
        }
        YamlDataOwned::Tagged(tag, _) => {
            return Err(err(format!(
                "YAML tags ({tag}) are not used in mapping specs; remove it"
            )));
        }
        YamlDataOwned::Alias(_) => {
            return Err(err(
                "YAML aliases are not used in mapping specs; use a field group or a library".into(),
            ));
        }
        YamlDataOwned::BadValue => return Err(err("this value cannot be read".into())),
    };
    Ok(Node { pos, kind })
}

fn index_positions(node: &Node, path: &str, out: &mut HashMap<String, Pos>) {
    match &node.kind {
        Kind::Scalar { .. } => {}
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = index_path(path, i);
                out.insert(p.clone(), item.pos);
                index_positions(item, &p, out);
            }
        }
        Kind::Map(entries) => {
            for e in entries {
                let p = child_path(path, &e.key);
                // A key's line is where a reader looks for it.
                out.insert(p.clone(), e.key_pos);
                index_positions(&e.value, &p, out);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Recording errors while deserializing.

type Recorded = Vec<(String, String)>;

thread_local! {
    /// Problems recorded while a document is being deserialized on this thread, and the path of
    /// the innermost node whose error is on its way up (so a [`Located`] item that swallows the
    /// error can report it where it happened, not at the item).
    static RECORDER: RefCell<Option<(Recorded, Option<String>)>> = const { RefCell::new(None) };
}

struct Recorder;

impl Recorder {
    fn install() -> Recorder {
        RECORDER.with(|r| *r.borrow_mut() = Some((Vec::new(), None)));
        Recorder
    }

    fn active() -> bool {
        RECORDER.with(|r| r.borrow().is_some())
    }

    fn record(path: String, message: String) {
        RECORDER.with(|r| {
            if let Some((list, _)) = r.borrow_mut().as_mut() {
                list.push((path, message));
            }
        });
    }

    fn set_last(path: &str) {
        RECORDER.with(|r| {
            if let Some((_, last)) = r.borrow_mut().as_mut()
                && last.is_none()
            {
                *last = Some(path.to_owned());
            }
        });
    }

    fn take_last() -> Option<String> {
        RECORDER.with(|r| r.borrow_mut().as_mut().and_then(|(_, last)| last.take()))
    }

    fn take() -> Recorded {
        RECORDER.with(|r| r.borrow_mut().take().map(|(l, _)| l).unwrap_or_default())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        RECORDER.with(|r| *r.borrow_mut() = None);
    }
}

// ---------------------------------------------------------------------------------------------
// Located items.

const LOCATED: &str = "$lf_mapping::Located";

/// A list item or map entry of a spec, with the path it was read from (which the compile step
/// turns back into a line and column). When the item itself is broken, the error is recorded,
/// `value` is `None`, and the rest of the file still loads.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub path: String,
    pub value: Option<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_newtype_struct(LOCATED, LocatedVisitor(PhantomData))
    }
}

struct LocatedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for LocatedVisitor<T> {
    type Value = Located<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a spec item")
    }

    // Another deserializer (not this module's): no path, no recovery.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::deserialize(d).map(|v| Located {
            path: String::new(),
            value: Some(v),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let path: String = seq.next_element()?.unwrap_or_default();
        match seq.next_element::<T>() {
            Ok(Some(v)) => Ok(Located {
                path,
                value: Some(v),
            }),
            Ok(None) => Err(de::Error::invalid_length(1, &self)),
            Err(e) if Recorder::active() => {
                let at = Recorder::take_last().unwrap_or_else(|| path.clone());
                Recorder::record(at, e.to_string());
                Ok(Located { path, value: None })
            }
            Err(e) => Err(e),
        }
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

// ---------------------------------------------------------------------------------------------
// The deserializer.

/// A deserialization error with the path of the node it is about.
#[derive(Debug)]
pub(crate) struct DeError {
    path: Option<String>,
    message: String,
}

impl DeError {
    fn at(mut self, path: &str) -> Self {
        if self.path.is_none() {
            self.path = Some(path.to_owned());
            Recorder::set_last(path);
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        DeError {
            path: None,
            message: msg.to_string(),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let mut message = format!("unknown name `{variant}`");
        match did_you_mean(variant, expected.iter().copied()) {
            Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
            None => message.push_str(&format!("; expected one of: {}", expected.join(", "))),
        }
        DeError::custom(message)
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        DeError::custom(unknown_key_message(field, expected))
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::custom(format!("missing key `{field}`"))
    }
}

fn unknown_key_message(key: &str, expected: &[&str]) -> String {
    let mut message = format!("unknown key `{key}`");
    match did_you_mean(key, expected.iter().copied()) {
        Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
        None => message.push_str(&format!("; allowed keys: {}", expected.join(", "))),
    }
    message
}

struct De<'a> {
    node: &'a Node,
    path: String,
}

impl<'a> De<'a> {
    fn unexpected(&self) -> de::Unexpected<'a> {
        match &self.node.kind {
            Kind::Scalar { value, text } => match value {
                Scalar::Null => de::Unexpected::Unit,
                Scalar::Bool(b) => de::Unexpected::Bool(*b),
                Scalar::Int(i) => de::Unexpected::Signed(*i),
                Scalar::Float(f) => de::Unexpected::Float(*f),
                Scalar::Str(_) => de::Unexpected::Str(text),
            },
            Kind::Seq(_) => de::Unexpected::Seq,
            Kind::Map(_) => de::Unexpected::Map,
        }
    }

    fn invalid<V>(&self, exp: &dyn de::Expected) -> Result<V, DeError> {
        Err(de::Error::invalid_type(self.unexpected(), exp))
    }

    fn scalar_text(&self) -> Option<&'a str> {
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Null,
                ..
            } => None,
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    fn int(&self) -> Option<i64> {
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Int(i),
                ..
            } => Some(*i),
            Kind::Scalar {
                value: Scalar::Str(s),
                ..
            } => s.trim().parse().ok(),
            _ => None,
        }
    }

    fn float(&self) -> Option<f64> {
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Float(f),
                ..
            } => Some(*f),
            #[allow(clippy::cast_precision_loss)]
            Kind::Scalar {
                value: Scalar::Int(i),
                ..
            } => Some(*i as f64),
            _ => None,
        }
    }
}

macro_rules! de_int {
    ($($method:ident => $visit:ident : $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                match self.int().and_then(|i| <$ty>::try_from(i).ok()) {
                    Some(i) => visitor.$visit(i),
                    None => self.invalid(&visitor),
                }
                .map_err(|e| e.at(&self.path))
            }
        )*
    };
}

impl<'de, 'a> Deserializer<'de> for De<'a> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let r = match &self.node.kind {
            Kind::Scalar { value, .. } => match value {
                Scalar::Null => visitor.visit_unit(),
                Scalar::Bool(b) => visitor.visit_bool(*b),
                Scalar::Int(i) => visitor.visit_i64(*i),
                Scalar::Float(f) => visitor.visit_f64(*f),
                Scalar::Str(s) => visitor.visit_str(s),
            },
            Kind::Seq(items) => visitor.visit_seq(Seq::new(items, &self.path)),
            Kind::Map(entries) => visitor.visit_map(Map::new(entries.iter().collect(), &self.path)),
        };
        r.map_err(|e| e.at(&self.path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Bool(b),
                ..
            } => visitor.visit_bool(*b),
            _ => self.invalid(&"true or false"),
        }
        .map_err(|e| e.at(&self.path))
    }

    de_int! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.float() {
            Some(f) => visitor.visit_f64(f),
            None => self.invalid(&"a number"),
        }
        .map_err(|e| e.at(&self.path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    // Strings accept any non-null scalar as written: `ZIP: 02134` reads as "02134".
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.scalar_text() {
            Some(t) => visitor.visit_str(t),
            None => self.invalid(&"text"),
        }
        .map_err(|e| e.at(&self.path))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.invalid(&visitor).map_err(|e| e.at(&self.path))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.invalid(&visitor).map_err(|e| e.at(&self.path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Null,
                ..
            } => visitor.visit_none(),
            _ => {
                let path = self.path.clone();
                visitor.visit_some(self).map_err(|e| e.at(&path))
            }
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Null,
                ..
            } => visitor.visit_unit(),
            _ => self.invalid(&"nothing (null)"),
        }
        .map_err(|e| e.at(&self.path))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if name == LOCATED {
            // Errors inside are recorded by `LocatedVisitor`, which then carries on.
            return visitor.visit_seq(LocatedSeq {
                de: Some(self),
                sent_path: false,
            });
        }
        let path = self.path.clone();
        visitor.visit_newtype_struct(self).map_err(|e| e.at(&path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Seq(items) => visitor.visit_seq(Seq::new(items, &self.path)),
            _ => self.invalid(&"a list"),
        }
        .map_err(|e| e.at(&self.path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match &self.node.kind {
            Kind::Map(entries) => visitor.visit_map(Map::new(entries.iter().collect(), &self.path)),
            // An empty value (`lookups:` with nothing under it) reads as an empty map.
            Kind::Scalar {
                value: Scalar::Null,
                ..
            } => visitor.visit_map(Map::new(Vec::new(), &self.path)),
            _ => self.invalid(&"a map of `key: value` lines"),
        }
        .map_err(|e| e.at(&self.path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let entries = match &self.node.kind {
            Kind::Map(entries) => entries,
            _ => {
                return self
                    .invalid(&"a map of `key: value` lines")
                    .map_err(|e| e.at(&self.path));
            }
        };
        // Every unknown key is reported, and the struct is still built from the known ones,
        // so one typo does not hide the next.
        let mut known = Vec::with_capacity(entries.len());
        for e in entries {
            if fields.contains(&e.key.as_str()) {
                known.push(e);
            } else {
                Recorder::record(
                    child_path(&self.path, &e.key),
                    unknown_key_message(&e.key, fields),
                );
            }
        }
        visitor
            .visit_map(Map::new(known, &self.path))
            .map_err(|e| e.at(&self.path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let path = self.path.clone();
        match &self.node.kind {
            Kind::Scalar {
                value: Scalar::Str(_) | Scalar::Bool(_) | Scalar::Int(_),
                text,
            } => visitor.visit_enum(Enum {
                variant: text,
                value: None,
                path: path.clone(),
            }),
            Kind::Map(entries) if entries.len() == 1 => {
                let e = &entries[0];
                visitor.visit_enum(Enum {
                    variant: &e.key,
                    value: Some(&e.value),
                    path: child_path(&path, &e.key),
                })
            }
            _ => self.invalid(&"a name, or a single `name: value` pair"),
        }
        .map_err(|e| e.at(&path))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
}

/// The two elements a [`Located`] reads: its path, then itself.
struct LocatedSeq<'a> {
    de: Option<De<'a>>,
    sent_path: bool,
}

impl<'de, 'a> SeqAccess<'de> for LocatedSeq<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if !self.sent_path {
            self.sent_path = true;
            let path = self.de.as_ref().map(|d| d.path.clone()).unwrap_or_default();
            return seed.deserialize(path.into_deserializer()).map(Some);
        }
        match self.de.take() {
            Some(de) => seed.deserialize(de).map(Some),
            None => Ok(None),
        }
    }
}

struct Seq<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    path: &'a str,
}

impl<'a> Seq<'a> {
    fn new(items: &'a [Node], path: &'a str) -> Self {
        Seq {
            items: items.iter(),
            index: 0,
            path,
        }
    }
}

impl<'de, 'a> SeqAccess<'de> for Seq<'a> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.next() else {
            return Ok(None);
        };
        let path = index_path(self.path, self.index);
        self.index += 1;
        seed.deserialize(De { node, path }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map<'a> {
    entries: std::vec::IntoIter<&'a Entry>,
    current: Option<&'a Entry>,
    path: &'a str,
}

impl<'a> Map<'a> {
    fn new(entries: Vec<&'a Entry>, path: &'a str) -> Self {
        Map {
            entries: entries.into_iter(),
            current: None,
            path,
        }
    }
}

impl<'de, 'a> MapAccess<'de> for Map<'a> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        let key_de: de::value::StrDeserializer<'_, DeError> =
            entry.key.as_str().into_deserializer();
        seed.deserialize(key_de)
            .map(Some)
            .map_err(|e| e.at(&child_path(self.path, &entry.key)))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some(entry) = self.current.take() else {
            return Err(de::Error::custom("a value without a key"));
        };
        let de = De {
            node: &entry.value,
            path: child_path(self.path, &entry.key),
        };
        seed.deserialize(de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Enum<'a> {
    variant: &'a str,
    value: Option<&'a Node>,
    path: String,
}

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = DeError;
    type Variant = Variant<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant<'a>), DeError> {
        let name: de::value::StrDeserializer<'_, DeError> = self.variant.into_deserializer();
        let v = seed.deserialize(name)?;
        Ok((
            v,
            Variant {
                name: self.variant,
                value: self.value,
                path: self.path,
            },
        ))
    }
}

struct Variant<'a> {
    name: &'a str,
    value: Option<&'a Node>,
    path: String,
}

impl<'a> Variant<'a> {
    fn needs_value(&self) -> DeError {
        DeError::custom(format!(
            "`{}` needs a value: write it as `{}: ...`",
            self.name, self.name
        ))
    }
}

impl<'de, 'a> VariantAccess<'de> for Variant<'a> {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self.value {
            None => Ok(()),
            Some(Node {
                kind:
                    Kind::Scalar {
                        value: Scalar::Null,
                        ..
                    },
                ..
            }) => Ok(()),
            Some(_) => Err(DeError::custom(format!(
                "`{}` takes no value: write just `{}`",
                self.name, self.name
            ))),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        match self.value {
            Some(node) => seed.deserialize(De {
                node,
                path: self.path,
            }),
            None => Err(self.needs_value()),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        match self.value {
            Some(node) => De {
                node,
                path: self.path,
            }
            .deserialize_seq(visitor),
            None => Err(self.needs_value()),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.value {
            Some(node) => De {
                node,
                path: self.path,
            }
            .deserialize_struct("", fields, visitor),
            None => Err(self.needs_value()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Item {
        name: String,
        #[serde(default)]
        size: u32,
        kind: Option<ItemKind>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "snake_case")]
    enum ItemKind {
        Plain,
        Sized(u32),
        Named { label: String },
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        items: Vec<Located<Item>>,
    }

    fn load(text: &str) -> (Option<File>, Vec<RawDiag>) {
        Document::parse(text).unwrap().deserialize::<File>()
    }

    #[test]
    fn reads_items_with_their_paths() {
        let (file, diags) =
            load("items:\n  - name: a\n    kind: plain\n  - name: 007\n    kind: {sized: 3}\n");
        assert!(diags.is_empty(), "{diags:?}");
        let file = file.unwrap();
        assert_eq!(file.items[0].path, "items[0]");
        assert_eq!(file.items[1].value.as_ref().unwrap().name, "007");
        assert_eq!(
            file.items[1].value.as_ref().unwrap().kind,
            Some(ItemKind::Sized(3))
        );
    }

    #[test]
    fn every_unknown_key_and_broken_item_is_reported_with_its_line() {
        let text = "items:\n  - name: a\n    nmae: b\n    colour: red\n  - name: c\n    kind: plian\n  - name: d\n    kind: {named: {label: x, lable: y}}\n";
        let (file, diags) = load(text);
        let file = file.unwrap();
        let messages: Vec<String> = diags
            .iter()
            .map(|d| format!("{}:{} {} {}", d.pos.line, d.pos.column, d.path, d.message))
            .collect();
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(
            messages[0].starts_with("3:5 items[0].nmae unknown key `nmae`; did you mean `name`?"),
            "{messages:#?}"
        );
        assert!(messages[1].starts_with("4:5 items[0].colour unknown key `colour`"));
        assert!(
            messages[2].contains("6:")
                && messages[2].contains("unknown name `plian`; did you mean `plain`?"),
            "{messages:#?}"
        );
        assert!(
            messages[3].starts_with("8:") && messages[3].contains("`lable`; did you mean `label`?"),
            "{messages:#?}"
        );
        // The item with only unknown keys still loads; the one with a bad enum is dropped.
        assert!(file.items[0].value.is_some());
        assert!(file.items[1].value.is_none());
    }

    #[test]
    fn syntax_and_duplicate_key_errors_have_positions() {
        let err = Document::parse("a: 1\na: 2\n").unwrap_err();
        assert!(err.message.contains("duplicated key"), "{err:?}");
        assert_eq!(err.pos.line, 2);
        let err = Document::parse("a: [1, 2\n").unwrap_err();
        assert!(err.message.starts_with("YAML syntax"));
    }

    #[test]
    fn missing_key_is_reported_at_the_item() {
        let (_, diags) = load("items:\n  - size: 3\n");
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].pos.line, 2);
        assert!(diags[0].message.contains("missing key `name`"));
    }

    #[test]
    fn positions_find_the_nearest_existing_ancestor() {
        let doc = Document::parse("top:\n  inner:\n    leaf: 1\n").unwrap();
        assert_eq!(doc.pos("top.inner.leaf").line, 3);
        assert_eq!(doc.pos("top.inner.missing").line, 2);
        assert_eq!(parent_path("a.b[2].c"), Some("a.b[2]"));
        assert_eq!(parent_path("a.b[2]"), Some("a.b"));
        assert_eq!(parent_path("a"), Some(""));
    }
}
