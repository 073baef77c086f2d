//! Source paths (JSONPath, RFC 9535, parsed by `serde_json_path`) and target paths (dotted
//! element names). A source path of the plain form `$.a.b` compiles to direct map lookups: most
//! fields of a real mapping are like that, and it is what keeps mapping off the profile.

use std::sync::Arc;

use serde_json::Value;
use serde_json_path::{JsonPath, PathElement};

use crate::schema::{Catalog, FieldType, ObjectDef};

/// A compiled JSONPath into a record.
#[derive(Debug, Clone)]
pub(crate) enum SourcePath {
    /// `$.a.b.c`: walk the keys.
    Direct(Arc<[Box<str>]>),
    /// Anything else: evaluate the query.
    Query(Arc<JsonPath>),
}

/// What a path selected in one record.
#[derive(Debug)]
pub(crate) enum Selected<'a> {
    None,
    One(&'a Value),
    Many(Vec<&'a Value>),
}

/// What a path selects, learned at compile time from the declared objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathType {
    pub ty: FieldType,
    /// The path can select several values (wildcards, filters, slices, descendants).
    pub many: bool,
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl SourcePath {
    /// Parses `text` and checks it against `object`. Returns what it selects.
    pub(crate) fn compile(
        text: &str,
        object: &ObjectDef,
        catalog: &Catalog,
    ) -> Result<(SourcePath, PathType), String> {
        let query = JsonPath::parse(text).map_err(|e| format!("bad JSONPath `{text}`: {e}"))?;
        // The plain form: `$` then `.name` segments. Recognized on the text only after the
        // crate accepted it, so this is never a second parser.
        if let Some(rest) = text.strip_prefix("$.") {
            let segs: Vec<&str> = rest.split('.').collect();
            if segs.iter().all(|s| is_name(s)) {
                let ty = catalog
                    .resolve(object, &segs)
                    .map_err(|e| format!("JSONPath `{text}`: {e}"))?;
                let path = SourcePath::Direct(segs.iter().map(|s| Box::from(*s)).collect());
                return Ok((path, PathType { ty, many: false }));
            }
        }
        if text == "$" {
            return Ok((
                SourcePath::Query(Arc::new(query)),
                PathType {
                    ty: FieldType::Ref(object.name.clone()),
                    many: false,
                },
            ));
        }
        let many = text.contains(['*', '?', ':']) || text.contains("..");
        let filtered = text.contains('?');
        let shape = catalog.shape(object);
        let found = query.query_located(&shape);
        let ty = match found.first() {
            Some(node) => type_at(catalog, object, node.location().iter())?,
            // A filter compares values the sample record does not have: trust it, untyped.
            None if filtered => FieldType::Any,
            None => {
                return Err(format!(
                    "JSONPath `{text}` selects nothing in {}: check the field names",
                    object.name
                ));
            }
        };
        Ok((SourcePath::Query(Arc::new(query)), PathType { ty, many }))
    }

    /// Selects from `record`.
    pub(crate) fn select<'a>(&self, record: &'a Value) -> Selected<'a> {
        match self {
            SourcePath::Direct(segs) => {
                let mut v = record;
                for s in segs.iter() {
                    match v.get(&**s) {
                        Some(next) => v = next,
                        None => return Selected::None,
                    }
                }
                Selected::One(v)
            }
            SourcePath::Query(q) => {
                let nodes = q.query(record).all();
                match nodes.len() {
                    0 => Selected::None,
                    1 => Selected::One(nodes[0]),
                    _ => Selected::Many(nodes),
                }
            }
        }
    }

    /// Selects a list: every match of a query, or the elements of a single array.
    pub(crate) fn select_all<'a>(&self, record: &'a Value) -> Vec<&'a Value> {
        match self {
            SourcePath::Query(q) => q.query(record).all(),
            SourcePath::Direct(_) => match self.select(record) {
                Selected::One(Value::Array(items)) => items.iter().collect(),
                Selected::One(Value::Null) | Selected::None => Vec::new(),
                Selected::One(v) => vec![v],
                Selected::Many(v) => v,
            },
        }
    }
}

/// A source path as a compiled field holds it: evaluated on the record, or one of its field
/// list's plain paths, read once per record (see [`Reads`]).
#[derive(Debug, Clone)]
pub(crate) enum Read {
    Path(SourcePath),
    /// The index of the path in its field list's [`Reads`], and of its value in what
    /// [`Reads::read`] filled.
    Slot(usize),
}

impl Read {
    /// Selects from `record`; a slot is taken from `slots`, filled from that record.
    pub(crate) fn select<'a>(
        &self,
        record: &'a Value,
        slots: &[Option<&'a Value>],
    ) -> Selected<'a> {
        match self {
            Read::Path(p) => p.select(record),
            Read::Slot(i) => match slots.get(*i).copied().flatten() {
                Some(v) => Selected::One(v),
                None => Selected::None,
            },
        }
    }
}

/// The distinct plain (`$.a.b`) source paths of one field list. A record's values for them
/// are read once, before its fields run: five fields mapping `$.Name` make one lookup, not
/// five. A record's keys are hashed with SipHash on every lookup (serde_json's map), so when
/// the record is not much wider than what is read, its entries are instead walked once and
/// each key is compared with the first names of the same length (no hashing at all).
#[derive(Debug, Default)]
pub(crate) struct Reads {
    /// The distinct first names.
    firsts: Vec<Box<str>>,
    /// The first names by their length in bytes: `(name, index in firsts)`.
    by_len: Vec<Vec<(Box<str>, usize)>>,
    /// Each distinct path: its first name (an index into `firsts`) and the names after it.
    paths: Vec<(usize, Box<[Box<str>]>)>,
}

/// A record with at most this many entries per first name read is walked instead of looked
/// up: a walked entry (a length check, rarely a compare) costs far less than a lookup.
const WALK_FACTOR: usize = 4;

impl Reads {
    /// The slot of a plain path, added if it is new.
    pub(crate) fn slot(&mut self, segs: &[Box<str>]) -> Option<usize> {
        let (first, rest) = segs.split_first()?;
        let fi = match self.firsts.iter().position(|f| f == first) {
            Some(i) => i,
            None => {
                let i = self.firsts.len();
                self.firsts.push(first.clone());
                if self.by_len.len() <= first.len() {
                    self.by_len.resize_with(first.len() + 1, Vec::new);
                }
                if let Some(same_len) = self.by_len.get_mut(first.len()) {
                    same_len.push((first.clone(), i));
                }
                i
            }
        };
        if let Some(i) = self
            .paths
            .iter()
            .position(|(f, r)| *f == fi && **r == *rest)
        {
            return Some(i);
        }
        self.paths.push((fi, rest.into()));
        Some(self.paths.len() - 1)
    }

    /// Turns a plain path into its slot; other paths stay as they are.
    pub(crate) fn intern(&mut self, read: &mut Read) {
        if let Read::Path(SourcePath::Direct(segs)) = read
            && let Some(i) = self.slot(segs)
        {
            *read = Read::Slot(i);
        }
    }

    /// The number of slots [`Reads::read`] fills.
    pub(crate) fn len(&self) -> usize {
        self.paths.len()
    }

    /// The number of first names: the scratch space [`Reads::read`] needs.
    pub(crate) fn firsts(&self) -> usize {
        self.firsts.len()
    }

    /// Reads every path from `record` with lookups, one path after the other (what
    /// `SourcePath::select` does): the plain way `read` is checked against in tests.
    #[cfg(test)]
    pub(crate) fn read_each<'a>(&self, record: &'a Value, out: &mut [Option<&'a Value>]) {
        for (o, (fi, rest)) in out.iter_mut().zip(&self.paths) {
            let mut v = self.firsts.get(*fi).and_then(|f| record.get(&**f));
            for seg in rest.iter() {
                v = v.and_then(|x| x.get(&**seg));
            }
            *o = v;
        }
    }

    /// Reads every path from `record`: `out[slot]` is the value at the path, `None` where it
    /// selects nothing (what `SourcePath::select` gives). `firsts` is scratch space, at
    /// least `self.firsts()` long; `out` at least `self.len()`.
    pub(crate) fn read<'a>(
        &self,
        record: &'a Value,
        firsts: &mut [Option<&'a Value>],
        out: &mut [Option<&'a Value>],
    ) {
        let Value::Object(map) = record else {
            out.iter_mut().for_each(|o| *o = None);
            return;
        };
        if map.len() <= WALK_FACTOR * self.firsts.len() {
            firsts.iter_mut().for_each(|f| *f = None);
            // Keys in a map are distinct: each first name is found at most once.
            for (k, v) in map {
                let Some(same_len) = self.by_len.get(k.len()) else {
                    continue;
                };
                if let Some((_, i)) = same_len.iter().find(|(n, _)| **n == **k)
                    && let Some(f) = firsts.get_mut(*i)
                {
                    *f = Some(v);
                }
            }
        } else {
            for (f, name) in firsts.iter_mut().zip(&self.firsts) {
                *f = map.get(&**name);
            }
        }
        for (o, (fi, rest)) in out.iter_mut().zip(&self.paths) {
            let mut v = firsts.get(*fi).copied().flatten();
            for seg in rest.iter() {
                v = v.and_then(|x| x.get(&**seg));
            }
            *o = v;
        }
    }
}

/// The declared type at a normalized location of the sample record.
fn type_at<'p>(
    catalog: &Catalog,
    object: &ObjectDef,
    elements: impl Iterator<Item = &'p PathElement<'p>>,
) -> Result<FieldType, String> {
    let mut ty = FieldType::Ref(object.name.clone());
    for el in elements {
        ty = match (el, &ty) {
            (PathElement::Name(n), FieldType::Ref(o)) => {
                let def = catalog.get(o).ok_or_else(|| catalog.unknown_object(o))?;
                catalog.field(def, n)?
            }
            (PathElement::Name(n), FieldType::Children(o)) => match &**n {
                "records" => FieldType::List(o.clone()),
                "totalSize" => FieldType::Int,
                _ => FieldType::Bool,
            },
            (PathElement::Index(_), FieldType::List(o)) => FieldType::Ref(o.clone()),
            _ => FieldType::Any,
        };
    }
    Ok(ty)
}

/// A dotted target path (`DISPLAYCONTACT.MAILADDRESS.CITY`), split once at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetPath {
    pub segments: Box<[Box<str>]>,
}

impl TargetPath {
    pub(crate) fn parse(text: &str) -> Result<TargetPath, String> {
        let segments: Vec<&str> = text.split('.').collect();
        if segments
            .iter()
            .any(|s| s.trim().is_empty() || *s != s.trim())
        {
            return Err(format!(
                "target `{text}` is not a dotted field path (e.g. DISPLAYCONTACT.MAILADDRESS.CITY)"
            ));
        }
        Ok(TargetPath {
            segments: segments.into_iter().map(Box::from).collect(),
        })
    }

    pub(crate) fn as_dotted(&self) -> String {
        self.segments.join(".")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::SystemName;
    use serde_json::json;

    fn catalog() -> (Catalog, Arc<ObjectDef>) {
        let mut c = Catalog::default();
        let line = Arc::new(ObjectDef {
            name: "OpportunityLineItem".into(),
            system: SystemName::Salesforce,
            fields: [
                ("ProductCode".to_owned(), FieldType::String { max: None }),
                ("Quantity".to_owned(), FieldType::Decimal),
            ]
            .into(),
        });
        let account = Arc::new(ObjectDef {
            name: "Account".into(),
            system: SystemName::Salesforce,
            fields: [("BillingCity".to_owned(), FieldType::String { max: None })].into(),
        });
        let opp = Arc::new(ObjectDef {
            name: "Opportunity".into(),
            system: SystemName::Salesforce,
            fields: [
                ("Name".to_owned(), FieldType::String { max: None }),
                ("Account".to_owned(), FieldType::Ref("Account".into())),
                (
                    "OpportunityLineItems".to_owned(),
                    FieldType::Children("OpportunityLineItem".into()),
                ),
            ]
            .into(),
        });
        c.insert(line);
        c.insert(account);
        c.insert(opp.clone());
        (c, opp)
    }

    #[test]
    fn plain_paths_compile_to_direct_lookups() {
        let (c, opp) = catalog();
        let (p, t) = SourcePath::compile("$.Account.BillingCity", &opp, &c).unwrap();
        assert!(matches!(p, SourcePath::Direct(_)));
        assert_eq!(t.ty, FieldType::String { max: None });
        let rec = json!({"Account": {"BillingCity": "Lyon"}});
        assert!(matches!(p.select(&rec), Selected::One(v) if v == "Lyon"));
        assert!(matches!(p.select(&json!({})), Selected::None));
    }

    #[test]
    fn queries_are_typed_from_the_declared_shape() {
        let (c, opp) = catalog();
        let (p, t) = SourcePath::compile("$.OpportunityLineItems.records[*]", &opp, &c).unwrap();
        assert!(matches!(p, SourcePath::Query(_)));
        assert_eq!(t.ty, FieldType::Ref("OpportunityLineItem".into()));
        assert!(t.many);
        let rec = json!({"OpportunityLineItems": {"records": [{"ProductCode": "A"}, {"ProductCode": "B"}]}});
        assert_eq!(p.select_all(&rec).len(), 2);
        let (_, t) = SourcePath::compile("$['Name']", &opp, &c).unwrap();
        assert_eq!(t.ty, FieldType::String { max: None });
    }

    #[test]
    fn bad_paths_are_rejected_with_reasons() {
        let (c, opp) = catalog();
        let e = SourcePath::compile("$.Name[", &opp, &c).unwrap_err();
        assert!(e.starts_with("bad JSONPath"), "{e}");
        let e = SourcePath::compile("$.Nmae", &opp, &c).unwrap_err();
        assert!(e.contains("did you mean `Name`"), "{e}");
        let e = SourcePath::compile("$.OpportunityLineItems.records[*].Prodcode", &opp, &c)
            .unwrap_err();
        assert!(e.contains("selects nothing"), "{e}");
        // A filter is trusted (the sample has no values to filter on).
        assert!(
            SourcePath::compile(
                "$.OpportunityLineItems.records[?@.ProductCode == 'X']",
                &opp,
                &c
            )
            .is_ok()
        );
    }

    #[test]
    fn reads_walk_or_look_up_and_find_what_each_path_selects() {
        let paths = [
            "Name",
            "Owner.Email",
            "Owner.Name",
            "Name",
            "Parent.Owner.Name",
            "Id",
            "Fax",
        ];
        let mut reads = Reads::default();
        let mut direct = Vec::new();
        for p in paths {
            let segs: Vec<Box<str>> = p.split('.').map(Box::from).collect();
            let mut read = Read::Path(SourcePath::Direct(segs.clone().into()));
            reads.intern(&mut read);
            let Read::Slot(slot) = read else {
                panic!("{p} was not given a slot");
            };
            direct.push((slot, SourcePath::Direct(segs.into())));
        }
        // `Name` twice is one slot; the first names are Name, Owner, Parent, Id, Fax.
        assert_eq!(reads.len(), 6);
        assert_eq!(reads.firsts(), 5);
        let narrow = json!({"Name": "Acme", "Owner": {"Email": "a@b.c", "Name": null},
            "Parent": {"Owner": "not a record"}, "Idx": 1, "Fa": 2});
        let mut wide = narrow.clone();
        for i in 0..100 {
            wide[format!("Extra{i}")] = json!(i);
        }
        wide["Id"] = json!("001");
        for record in [
            narrow,
            wide,
            json!({}),
            json!(null),
            json!(["Name"]),
            json!("Name"),
        ] {
            let mut firsts = vec![None; reads.firsts()];
            let mut walked = vec![Some(&Value::Null); reads.len()];
            reads.read(&record, &mut firsts, &mut walked);
            let mut each = vec![None; reads.len()];
            reads.read_each(&record, &mut each);
            assert_eq!(walked, each, "{record}");
            for (slot, p) in &direct {
                let want = match p.select(&record) {
                    Selected::One(v) => Some(v),
                    _ => None,
                };
                assert_eq!(walked[*slot], want, "{record}");
            }
        }
    }

    #[test]
    fn target_paths_split_on_dots() {
        assert_eq!(
            TargetPath::parse("DISPLAYCONTACT.MAILADDRESS.CITY")
                .unwrap()
                .segments
                .len(),
            3
        );
        assert!(TargetPath::parse("A..B").is_err());
        assert!(TargetPath::parse(" A").is_err());
    }
}
