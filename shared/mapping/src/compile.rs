//! Spec files → compiled plans. Every path, transform argument, lookup table reference,
//! expression and entity reference is checked; every problem is reported with its file, line,
//! column and field, all at once.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

use lf_domain::{CurrencyCode, EntityId, Flow};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::describe::ObjectDescribe;
use crate::error::{Diagnostic, Diagnostics};
use crate::expr::{CelEnv, Expr, Scope, Ty};
use crate::matching::{Fuzzy, KeyPart, MatchKey, MatchPlan};
use crate::path::{PathType, Read, Reads, SourcePath, TargetPath};
use crate::plan::{FieldPlan, Input, LinePlan, MappingPlan, OwnershipPlan, Shape};
use crate::routing::{Entity, Rates, RoutingPlan, Rule};
use crate::schema::{Catalog, FieldType, ObjectDef};
use crate::spec::{
    EntitySpec, FieldSpec, LineSpec, LookupSpec, MappingSpec, MatchingSpec, RoutingSpec, SpecFile,
    TestSpec, TransformSpec,
};
use crate::suggest::did_you_mean;
use crate::transform::{CharClass, CurrencySource, Kind, LookupTable, Transform, kind_of_json};
use crate::yaml::{Document, Located, child_path, index_path};

/// A compiled test case, run by [`crate::SpecSet::run_tests`].
#[derive(Debug)]
pub(crate) struct CompiledTest {
    pub file: String,
    pub line: u32,
    pub flow: Flow,
    pub spec: TestSpec,
    pub rates: Rates,
}

/// What compiling produces.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub flows: BTreeMap<Flow, (String, BTreeMap<String, Arc<MappingPlan>>)>,
    pub tests: Vec<CompiledTest>,
}

struct File {
    name: String,
    doc: Option<Document>,
    spec: Option<SpecFile>,
}

struct Diags<'f> {
    files: &'f [File],
    list: Vec<Diagnostic>,
    /// `section.name` of definitions that failed to load: references to them are not reported
    /// again as "undefined".
    broken: HashSet<String>,
}

impl Diags<'_> {
    fn at(&mut self, file: usize, path: &str, message: impl Into<String>) {
        let f = &self.files[file];
        let pos = f.doc.as_ref().map(|d| d.pos(path)).unwrap_or_default();
        self.list.push(Diagnostic {
            file: f.name.clone(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            field: path.to_owned(),
            message: message.into(),
        });
    }

    /// An unknown name: reported unless the definition itself is broken (already reported).
    fn undefined(
        &mut self,
        file: usize,
        path: &str,
        section: &str,
        what: &str,
        name: &str,
        known: Vec<&str>,
    ) {
        if self.broken.contains(&format!("{section}.{name}")) || self.broken.contains(UNREADABLE) {
            return;
        }
        let mut m = format!("{what} `{name}` is not defined in this file or its includes");
        match did_you_mean(name, known.iter().copied()) {
            Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
            None if !known.is_empty() && known.len() <= 12 => {
                m.push_str(&format!("; defined: {}", known.join(", ")))
            }
            None => {}
        }
        self.at(file, path, m);
    }
}

/// Marks that a file could not be parsed at all: any name may be defined there, so unknown
/// names are not reported until it parses.
const UNREADABLE: &str = "$unreadable";

/// The files whose definitions one file sees: itself first, then its includes (transitively).
type ScopeFiles = Vec<usize>;

/// Compiled pieces of one file, found by name from any file that includes it.
#[derive(Default)]
struct Pieces {
    objects: BTreeMap<String, Arc<ObjectDef>>,
    lookups: BTreeMap<String, Arc<LookupTable>>,
    entities: BTreeMap<String, Arc<Entity>>,
    routings: BTreeMap<String, Arc<RoutingPlan>>,
    matching: BTreeMap<String, (Arc<MatchPlan>, String, String)>,
}

fn find<'p, T: 'p>(
    pieces: &'p [Pieces],
    scope: &ScopeFiles,
    get: impl Fn(&'p Pieces) -> &'p BTreeMap<String, T>,
    name: &str,
) -> Option<&'p T> {
    scope.iter().find_map(|f| get(&pieces[*f]).get(name))
}

fn names<'p, T: 'p>(
    pieces: &'p [Pieces],
    scope: &ScopeFiles,
    get: impl Fn(&'p Pieces) -> &'p BTreeMap<String, T>,
) -> Vec<&'p str> {
    let mut v: Vec<&str> = scope
        .iter()
        .flat_map(|f| get(&pieces[*f]).keys().map(String::as_str))
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Compiles a set of files (name → YAML text), checking declared objects against `describes`
/// where one is given for them.
pub(crate) fn compile(
    sources: &BTreeMap<String, String>,
    describes: &[ObjectDescribe],
) -> Result<Compiled, Diagnostics> {
    let mut files: Vec<File> = Vec::new();
    let mut early: Vec<Diagnostic> = Vec::new();
    let mut broken = HashSet::new();
    for (name, text) in sources {
        match Document::parse(text) {
            Err(raw) => {
                broken.insert(UNREADABLE.to_owned());
                early.push(Diagnostic {
                    file: name.clone(),
                    line: raw.pos.line,
                    column: raw.pos.column,
                    field: raw.path,
                    message: raw.message,
                });
                files.push(File {
                    name: name.clone(),
                    doc: None,
                    spec: None,
                });
            }
            Ok(doc) => {
                let (spec, raws) = doc.deserialize::<SpecFile>();
                for raw in raws {
                    early.push(Diagnostic {
                        file: name.clone(),
                        line: raw.pos.line,
                        column: raw.pos.column,
                        field: raw.path,
                        message: raw.message,
                    });
                }
                if let Some(s) = &spec {
                    note_broken(s, &mut broken);
                }
                files.push(File {
                    name: name.clone(),
                    doc: Some(doc),
                    spec,
                });
            }
        }
    }
    let mut d = Diags {
        files: &files,
        list: early,
        broken,
    };
    let compiled = Compiler::new(&files, &mut d, describes).run();
    let mut list = d.list;
    list.sort();
    list.dedup();
    if list.is_empty() {
        Ok(compiled)
    } else {
        Err(Diagnostics(list))
    }
}

/// A named definition of a spec file: its section, what messages call it, its name, and
/// whether it loaded.
struct Definition<'s> {
    section: &'static str,
    what: &'static str,
    name: &'s str,
    loaded: bool,
}

/// Every named definition of a file.
fn definitions(s: &SpecFile) -> Vec<Definition<'_>> {
    fn each<'s, T>(
        out: &mut Vec<Definition<'s>>,
        section: &'static str,
        what: &'static str,
        m: &'s BTreeMap<String, Located<T>>,
    ) {
        out.extend(m.iter().map(|(name, v)| Definition {
            section,
            what,
            name,
            loaded: v.value.is_some(),
        }));
    }
    let mut out = Vec::new();
    each(&mut out, "objects", "object", &s.objects);
    each(&mut out, "lookups", "lookup table", &s.lookups);
    each(&mut out, "field_groups", "field group", &s.field_groups);
    each(&mut out, "entities", "entity", &s.entities);
    each(&mut out, "routings", "routing", &s.routings);
    each(&mut out, "matching", "matching rules", &s.matching);
    each(&mut out, "mappings", "mapping", &s.mappings);
    out
}

fn note_broken(s: &SpecFile, broken: &mut HashSet<String>) {
    for d in definitions(s) {
        if !d.loaded {
            broken.insert(format!("{}.{}", d.section, d.name));
        }
    }
}

struct Compiler<'f, 'd> {
    files: &'f [File],
    describes: &'d [ObjectDescribe],
    d: &'d mut Diags<'f>,
    env: CelEnv,
    libraries: BTreeMap<String, usize>,
    scopes: Vec<ScopeFiles>,
    catalogs: Vec<Catalog>,
    pieces: Vec<Pieces>,
}

/// Where a field mapping's text lives (groups live in another place than the mapping).
#[derive(Clone, Copy)]
struct At<'p> {
    file: usize,
    path: &'p str,
}

/// What a list of field mappings is compiled against.
struct FieldEnv<'s> {
    scope_file: usize,
    root: Arc<ObjectDef>,
    target: Arc<ObjectDef>,
    expr_scope: Scope<'s>,
    routed: bool,
    write_nulls: bool,
}

impl<'f, 'd> Compiler<'f, 'd> {
    fn new(files: &'f [File], d: &'d mut Diags<'f>, describes: &'d [ObjectDescribe]) -> Self {
        let n = files.len();
        Compiler {
            files,
            describes,
            d,
            env: CelEnv::stdlib(),
            libraries: BTreeMap::new(),
            scopes: vec![Vec::new(); n],
            catalogs: (0..n).map(|_| Catalog::default()).collect(),
            pieces: (0..n).map(|_| Pieces::default()).collect(),
        }
    }

    fn spec(&self, f: usize) -> Option<&'f SpecFile> {
        self.files[f].spec.as_ref()
    }

    fn run(mut self) -> Compiled {
        let flows = self.identify();
        self.resolve_includes();
        self.unique_names();
        self.objects();
        for f in 0..self.files.len() {
            self.lookups(f);
            self.entities(f);
        }
        for f in 0..self.files.len() {
            self.routings(f);
            self.matching(f);
        }
        let mut out = Compiled {
            flows: BTreeMap::new(),
            tests: Vec::new(),
        };
        for f in 0..self.files.len() {
            let mappings = self.mappings(f);
            if let Some(flow) = flows.get(&f) {
                self.tests(f, *flow, &mappings, &mut out.tests);
                out.flows
                    .insert(*flow, (self.files[f].name.clone(), mappings));
            }
        }
        out
    }

    /// Flow or library, and the names.
    fn identify(&mut self) -> HashMap<usize, Flow> {
        let mut flows = HashMap::new();
        let mut seen_flows: BTreeMap<Flow, usize> = BTreeMap::new();
        for f in 0..self.files.len() {
            let Some(spec) = self.spec(f) else { continue };
            match (&spec.flow, &spec.library) {
                (Some(_), Some(_)) => self.d.at(
                    f,
                    "library",
                    "a file is either a flow (`flow:`) or a library (`library:`), not both",
                ),
                (None, None) => self.d.at(
                    f,
                    "",
                    "start the file with `flow: <flow name>` or `library: <name>`",
                ),
                (Some(name), None) => match Flow::parse(name) {
                    Some(flow) => {
                        if let Some(prev) = seen_flows.insert(flow, f) {
                            let prev_name = self.files[prev].name.clone();
                            self.d.at(
                                f,
                                "flow",
                                format!("flow `{name}` is already mapped in {prev_name}"),
                            );
                        } else {
                            flows.insert(f, flow);
                        }
                    }
                    None => {
                        let known: Vec<&str> = Flow::ALL.iter().map(|f| f.as_str()).collect();
                        let mut m = format!("unknown flow `{name}`");
                        match did_you_mean(name, known.iter().copied()) {
                            Some(s) => m.push_str(&format!("; did you mean `{s}`?")),
                            None => m.push_str(&format!("; flows: {}", known.join(", "))),
                        }
                        self.d.at(f, "flow", m);
                    }
                },
                (None, Some(name)) => {
                    if let Some(prev) = self.libraries.insert(name.clone(), f) {
                        let prev_name = self.files[prev].name.clone();
                        self.d.at(
                            f,
                            "library",
                            format!("library `{name}` is already defined in {prev_name}"),
                        );
                    }
                    if !spec.mappings.is_empty() || !spec.tests.is_empty() {
                        self.d.at(
                            f,
                            if spec.mappings.is_empty() { "tests" } else { "mappings" },
                            "mappings and tests belong in flow files; libraries hold reusable pieces",
                        );
                    }
                }
            }
        }
        flows
    }

    fn resolve_includes(&mut self) {
        for f in 0..self.files.len() {
            let mut scope = vec![f];
            let mut stack = vec![f];
            let mut visiting = BTreeSet::new();
            visiting.insert(f);
            while let Some(cur) = stack.pop() {
                let Some(spec) = self.spec(cur) else { continue };
                for (i, inc) in spec.include.iter().enumerate() {
                    let Some(name) = &inc.value else { continue };
                    match self.libraries.get(name) {
                        Some(&lib) if lib == f && cur == f => {
                            self.d
                                .at(f, &index_path("include", i), "a file cannot include itself");
                        }
                        Some(&lib) if visiting.insert(lib) => {
                            scope.push(lib);
                            stack.push(lib);
                        }
                        Some(_) => {}
                        None if cur == f => {
                            let known: Vec<&str> =
                                self.libraries.keys().map(String::as_str).collect();
                            self.d.undefined(
                                f,
                                &index_path("include", i),
                                "library",
                                "library",
                                name,
                                known,
                            );
                        }
                        None => {}
                    }
                }
            }
            self.scopes[f] = scope;
        }
    }

    /// A name defined in two of the files one file sees (itself and its includes) is an
    /// error, in every section: which definition applied would depend on the include order.
    /// Reported at the file's own definition when it has one, else at the later include's.
    fn unique_names(&mut self) {
        for f in 0..self.files.len() {
            let mut first: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for &sf in &self.scopes[f] {
                let Some(spec) = self.files[sf].spec.as_ref() else {
                    continue;
                };
                // Mappings are a flow file's own; nothing looks them up across files.
                for d in definitions(spec)
                    .into_iter()
                    .filter(|d| d.section != "mappings")
                {
                    let Some(&prev) = first.get(&(d.section, d.name)) else {
                        first.insert((d.section, d.name), sf);
                        continue;
                    };
                    let (at, other) = if prev == f { (f, sf) } else { (sf, prev) };
                    let other = &self.files[other].name;
                    self.d.at(
                        at,
                        &child_path(d.section, d.name),
                        format!(
                            "{} `{}` is also defined in {other}; a name is defined once in a file and its includes",
                            d.what, d.name
                        ),
                    );
                }
            }
        }
    }

    fn objects(&mut self) {
        for f in 0..self.files.len() {
            let Some(spec) = self.spec(f) else { continue };
            for (name, loc) in &spec.objects {
                let Some(o) = &loc.value else { continue };
                let mut fields = BTreeMap::new();
                for (field, ty) in &o.fields {
                    match FieldType::parse(ty) {
                        Ok(t) => {
                            fields.insert(field.clone(), t);
                        }
                        Err(m) => {
                            let p = child_path(&child_path(&loc.path, "fields"), field);
                            self.d.at(f, &p, m);
                            self.d.broken.insert(format!("objects.{name}"));
                        }
                    }
                }
                if let Some(desc) = self.describes.iter().find(|x| x.object == *name) {
                    for (field, ty) in &fields {
                        let p = child_path(&child_path(&loc.path, "fields"), field);
                        if let Err(m) = desc.check(field, ty) {
                            self.d.at(f, &p, m);
                        }
                    }
                }
                let def = Arc::new(ObjectDef {
                    name: Arc::from(name.as_str()),
                    system: o.system,
                    fields,
                });
                self.pieces[f].objects.insert(name.clone(), def);
            }
        }
        for f in 0..self.files.len() {
            let mut catalog = Catalog::default();
            for &sf in self.scopes[f].iter().rev() {
                // Inserted last to first: the first in scope order wins (`unique_names`
                // reports a second one).
                for def in self.pieces[sf].objects.values() {
                    catalog.insert(def.clone());
                }
            }
            self.catalogs[f] = catalog;
        }
        // `ref(X)` must name a declared object.
        for f in 0..self.files.len() {
            let Some(spec) = self.spec(f) else { continue };
            for (name, loc) in &spec.objects {
                let Some(def) = self.pieces[f].objects.get(name).cloned() else {
                    continue;
                };
                for (field, ty) in &def.fields {
                    if let Some(o) = ty.object()
                        && self.catalogs[f].get(o).is_none()
                    {
                        let p = child_path(&child_path(&loc.path, "fields"), field);
                        let known: Vec<&str> = self.catalogs[f].names().collect();
                        self.d.undefined(f, &p, "objects", "object", o, known);
                    }
                }
            }
        }
    }

    fn lookups(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.lookups {
            let Some(l): Option<&LookupSpec> = loc.value.as_ref() else {
                continue;
            };
            let values = l
                .values
                .iter()
                .map(|(k, v)| {
                    let k = if l.case_insensitive {
                        k.trim().to_lowercase()
                    } else {
                        k.clone()
                    };
                    (k, v.clone())
                })
                .collect();
            if l.default.is_some() && l.passthrough {
                self.d.at(
                    f,
                    &child_path(&loc.path, "passthrough"),
                    "give either `default` or `passthrough`, not both",
                );
            }
            self.pieces[f].lookups.insert(
                name.clone(),
                Arc::new(LookupTable {
                    name: name.clone(),
                    values,
                    default: l.default.clone(),
                    case_insensitive: l.case_insensitive,
                    passthrough: l.passthrough,
                }),
            );
        }
    }

    fn entities(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.entities {
            let Some(e): Option<&EntitySpec> = loc.value.as_ref() else {
                continue;
            };
            let id = match EntityId::parse(name) {
                Ok(id) => id,
                Err(err) => {
                    self.d.at(f, &loc.path, err.to_string());
                    self.d.broken.insert(format!("entities.{name}"));
                    continue;
                }
            };
            let base = match CurrencyCode::parse(&e.base_currency) {
                Ok(c) => c,
                Err(err) => {
                    self.d
                        .at(f, &child_path(&loc.path, "base_currency"), err.to_string());
                    self.d.broken.insert(format!("entities.{name}"));
                    continue;
                }
            };
            let rates = self.rates(f, &child_path(&loc.path, "rates"), &e.rates);
            let entity = Entity::new(
                id,
                e.name.clone(),
                base,
                e.exchange_rate_type.clone(),
                e.tax_solution.clone(),
                e.tax_code.clone(),
                e.ar_account.clone(),
                e.terms.clone(),
                e.dimensions.clone(),
                rates,
            );
            self.pieces[f]
                .entities
                .insert(name.clone(), Arc::new(entity));
        }
    }

    fn rates(&mut self, f: usize, path: &str, raw: &BTreeMap<String, String>) -> Rates {
        let mut rates = Rates::new();
        for (code, rate) in raw {
            let p = child_path(path, code);
            let c = match CurrencyCode::parse(code) {
                Ok(c) => c,
                Err(e) => {
                    self.d.at(f, &p, e.to_string());
                    continue;
                }
            };
            match Decimal::from_str(rate.trim()) {
                Ok(r) if r > Decimal::ZERO => {
                    rates.insert(c, r);
                }
                _ => self
                    .d
                    .at(f, &p, format!("rate `{rate}` is not a positive decimal")),
            }
        }
        rates
    }

    fn object(&mut self, f: usize, path: &str, name: &str) -> Option<Arc<ObjectDef>> {
        match self.catalogs[f].get(name) {
            Some(o) => Some(o.clone()),
            None => {
                let known: Vec<&str> = self.catalogs[f].names().collect();
                self.d.undefined(f, path, "objects", "object", name, known);
                None
            }
        }
    }

    fn entity(&mut self, f: usize, path: &str, name: &str) -> Option<Arc<Entity>> {
        match find(&self.pieces, &self.scopes[f], |p| &p.entities, name) {
            Some(e) => Some(e.clone()),
            None => {
                let known = names(&self.pieces, &self.scopes[f], |p| &p.entities);
                self.d.undefined(f, path, "entities", "entity", name, known);
                None
            }
        }
    }

    fn condition(&mut self, f: usize, path: &str, text: &str, scope: &Scope<'_>) -> Option<Expr> {
        match Expr::compile(text, &self.env, scope) {
            Ok(e) if matches!(e.ty, Ty::Bool | Ty::Dyn | Ty::Null) => Some(e),
            Ok(e) => {
                self.d.at(
                    f,
                    path,
                    format!("condition `{text}` is {}, not true/false", e.ty),
                );
                None
            }
            Err(m) => {
                self.d.at(f, path, m);
                None
            }
        }
    }

    fn routings(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.routings {
            let Some(r): Option<&RoutingSpec> = loc.value.as_ref() else {
                continue;
            };
            let Some(object) = self.object(f, &child_path(&loc.path, "object"), &r.object) else {
                self.d.broken.insert(format!("routings.{name}"));
                continue;
            };
            let catalog = std::mem::take(&mut self.catalogs[f]);
            let scope = Scope {
                catalog: &catalog,
                record: object,
                line: None,
                entity: false,
            };
            let mut rules = Vec::new();
            let mut seen = BTreeSet::new();
            for rl in &r.rules {
                let Some(rule) = &rl.value else { continue };
                if !seen.insert(rule.name.clone()) {
                    self.d.at(
                        f,
                        &child_path(&rl.path, "name"),
                        format!("rule name `{}` is used twice", rule.name),
                    );
                }
                let when = self.condition(f, &child_path(&rl.path, "when"), &rule.when, &scope);
                let entity = self.entity(f, &child_path(&rl.path, "entity"), &rule.entity);
                if let (Some(when), Some(entity)) = (when, entity) {
                    rules.push(Rule {
                        name: rule.name.clone(),
                        when,
                        entity,
                    });
                }
            }
            self.catalogs[f] = catalog;
            let fallback = match &r.fallback {
                Some(e) => self.entity(f, &child_path(&loc.path, "fallback"), e),
                None => None,
            };
            if r.rules.is_empty() && r.fallback.is_none() {
                self.d.at(
                    f,
                    &child_path(&loc.path, "rules"),
                    "a routing needs at least one rule or a fallback",
                );
            }
            self.pieces[f].routings.insert(
                name.clone(),
                Arc::new(RoutingPlan {
                    name: name.clone(),
                    rules,
                    fallback,
                }),
            );
        }
    }

    fn matching(&mut self, f: usize) {
        let Some(spec) = self.spec(f) else { return };
        for (name, loc) in &spec.matching {
            let Some(m): Option<&MatchingSpec> = loc.value.as_ref() else {
                continue;
            };
            let source = self.object(f, &child_path(&loc.path, "source"), &m.source);
            let target = self.object(f, &child_path(&loc.path, "target"), &m.target);
            let (Some(source), Some(target)) = (source, target) else {
                self.d.broken.insert(format!("matching.{name}"));
                continue;
            };
            let mut keys = Vec::new();
            for kl in &m.keys {
                let Some(k) = &kl.value else { continue };
                let mut parts = Vec::new();
                for pl in &k.parts {
                    let Some(p) = &pl.value else { continue };
                    let s =
                        self.source_path(f, &child_path(&pl.path, "source"), &p.source, &source);
                    let t =
                        self.target_field(f, &child_path(&pl.path, "target"), &p.target, &target);
                    if let (Some((s, _)), Some((t, _))) = (s, t) {
                        parts.push(KeyPart {
                            source: s,
                            target: t,
                            normalize: p.normalize,
                        });
                    }
                }
                if k.parts.is_empty() {
                    self.d.at(
                        f,
                        &child_path(&kl.path, "parts"),
                        "a key needs at least one part",
                    );
                }
                keys.push(MatchKey {
                    name: k.name.clone(),
                    parts,
                });
            }
            let fuzzy = match &m.fuzzy {
                None => None,
                Some(z) => {
                    let p = child_path(&loc.path, "fuzzy");
                    if !(0.0..=1.0).contains(&z.threshold) {
                        self.d.at(
                            f,
                            &child_path(&p, "threshold"),
                            "the threshold is a similarity between 0 and 1",
                        );
                    }
                    let s = self.source_path(f, &child_path(&p, "source"), &z.source, &source);
                    let t = self.target_field(f, &child_path(&p, "target"), &z.target, &target);
                    match (s, t) {
                        (Some((s, _)), Some((t, _))) => Some(Fuzzy {
                            source: s,
                            target: t,
                            threshold: z.threshold,
                        }),
                        _ => None,
                    }
                }
            };
            self.pieces[f].matching.insert(
                name.clone(),
                (
                    Arc::new(MatchPlan {
                        name: name.clone(),
                        keys,
                        fuzzy,
                    }),
                    m.source.clone(),
                    m.target.clone(),
                ),
            );
        }
    }

    fn source_path(
        &mut self,
        f: usize,
        path: &str,
        text: &str,
        object: &ObjectDef,
    ) -> Option<(SourcePath, PathType)> {
        compile_source(self.d, f, path, text, object, &self.catalogs[f])
    }

    fn target_field(
        &mut self,
        f: usize,
        path: &str,
        text: &str,
        object: &ObjectDef,
    ) -> Option<(TargetPath, FieldType)> {
        compile_target(self.d, f, path, text, object, &self.catalogs[f])
    }

    fn mappings(&mut self, f: usize) -> BTreeMap<String, Arc<MappingPlan>> {
        let mut out = BTreeMap::new();
        let Some(spec) = self.spec(f) else { return out };
        for (name, loc) in &spec.mappings {
            let Some(m) = &loc.value else { continue };
            if let Some(plan) = self.mapping(f, name, &loc.path, m) {
                out.insert(name.clone(), Arc::new(plan));
            }
        }
        out
    }

    fn mapping(
        &mut self,
        f: usize,
        name: &str,
        path: &str,
        m: &MappingSpec,
    ) -> Option<MappingPlan> {
        let source = self.object(f, &child_path(path, "source"), &m.source);
        let target = self.object(f, &child_path(path, "target"), &m.target);
        let routing = match &m.routing {
            None => None,
            Some(r) => match find(&self.pieces, &self.scopes[f], |p| &p.routings, r) {
                Some(plan) => Some(plan.clone()),
                None => {
                    let known = names(&self.pieces, &self.scopes[f], |p| &p.routings);
                    self.d.undefined(
                        f,
                        &child_path(path, "routing"),
                        "routings",
                        "routing",
                        r,
                        known,
                    );
                    None
                }
            },
        };
        if let (Some(r), Some(spec_name)) = (&routing, &m.routing) {
            let object = self.routing_object(f, spec_name);
            if object.as_deref().is_some_and(|o| o != m.source) {
                self.d.at(
                    f,
                    &child_path(path, "routing"),
                    format!(
                        "routing `{}` reads {}, but this mapping's source is {}",
                        r.name,
                        object.unwrap_or_default(),
                        m.source
                    ),
                );
            }
        }
        let matching = match &m.matching {
            None => None,
            Some(mn) => match find(&self.pieces, &self.scopes[f], |p| &p.matching, mn) {
                Some((plan, s, t)) => {
                    if *s != m.source || *t != m.target {
                        self.d.at(
                            f,
                            &child_path(path, "matching"),
                            format!("matching `{mn}` matches {s} against {t}, but this mapping maps {} to {}", m.source, m.target),
                        );
                    }
                    Some(plan.clone())
                }
                None => {
                    let known = names(&self.pieces, &self.scopes[f], |p| &p.matching);
                    self.d.undefined(
                        f,
                        &child_path(path, "matching"),
                        "matching",
                        "matching rules",
                        mn,
                        known,
                    );
                    None
                }
            },
        };
        let (source, target) = (source?, target?);
        let catalog = std::mem::take(&mut self.catalogs[f]);
        let result = self.mapping_body(
            f, name, path, m, &catalog, source, target, routing, matching,
        );
        self.catalogs[f] = catalog;
        result
    }

    fn routing_object(&self, f: usize, routing: &str) -> Option<String> {
        self.scopes[f].iter().find_map(|sf| {
            let spec = self.spec(*sf)?;
            let r = spec.routings.get(routing)?.value.as_ref()?;
            Some(r.object.clone())
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn mapping_body(
        &mut self,
        f: usize,
        name: &str,
        path: &str,
        m: &MappingSpec,
        catalog: &Catalog,
        source: Arc<ObjectDef>,
        target: Arc<ObjectDef>,
        routing: Option<Arc<RoutingPlan>>,
        matching: Option<Arc<MatchPlan>>,
    ) -> Option<MappingPlan> {
        let record_scope = Scope {
            catalog,
            record: source.clone(),
            line: None,
            entity: false,
        };
        let when = match &m.when {
            Some(w) => self.condition(f, &child_path(path, "when"), w, &record_scope),
            None => None,
        };
        let env = FieldEnv {
            scope_file: f,
            root: source.clone(),
            target: target.clone(),
            expr_scope: Scope {
                entity: m.routing.is_some(),
                ..record_scope.clone()
            },
            routed: m.routing.is_some(),
            write_nulls: m.write_nulls,
        };
        let mut owners = HashMap::new();
        let fields = self.field_list(
            &env,
            At {
                file: f,
                path: &child_path(path, "fields"),
            },
            &m.fields,
            &mut owners,
        );
        let mut lines = Vec::new();
        for ll in &m.lines {
            let Some(l) = &ll.value else { continue };
            if let Some(lp) = self.line(&env, catalog, f, &ll.path, l, &mut owners) {
                lines.push(lp);
            }
        }
        let mapped_targets: BTreeSet<String> = fields
            .iter()
            .map(|fp| fp.label.to_string())
            .chain(lines.iter().flat_map(|lp| {
                lp.fields
                    .iter()
                    .map(move |fp| format!("{}.{}", lp.label, fp.label))
            }))
            .collect();
        if m.fields.is_empty() && m.lines.is_empty() {
            self.d
                .at(f, path, format!("mapping `{name}` maps no fields"));
        }
        let ownership = match &m.ownership {
            None => OwnershipPlan {
                default: crate::spec::Owner::LastModified,
                owners,
                source_modified: None,
                target_modified: None,
            },
            Some(o) => {
                let op = child_path(path, "ownership");
                let sm = o.source_modified.as_ref().and_then(|s| {
                    compile_source(
                        self.d,
                        f,
                        &child_path(&op, "source_modified"),
                        s,
                        &source,
                        catalog,
                    )
                    .map(|x| x.0)
                });
                let tm = o.target_modified.as_ref().and_then(|t| {
                    compile_target(
                        self.d,
                        f,
                        &child_path(&op, "target_modified"),
                        t,
                        &target,
                        catalog,
                    )
                    .map(|x| x.0)
                });
                let mut owners = owners;
                for (field, owner) in &o.fields {
                    if !mapped_targets.contains(field) {
                        self.d.at(
                            f,
                            &child_path(&child_path(&op, "fields"), field),
                            format!("`{field}` is not a target of this mapping"),
                        );
                        continue;
                    }
                    owners.insert(field.clone(), *owner);
                }
                OwnershipPlan {
                    default: o.default,
                    owners,
                    source_modified: sm,
                    target_modified: tm,
                }
            }
        };
        let mut plan = MappingPlan {
            name: name.to_owned(),
            source_object: source.name.to_string(),
            target_object: target.name.to_string(),
            source_system: source.system.into(),
            target_system: target.system.into(),
            when,
            routing,
            matching,
            shape: Shape::of(&fields),
            reads: Reads::default(),
            fields,
            lines,
            ownership,
        };
        plan.intern_reads();
        Some(plan)
    }

    #[allow(clippy::too_many_arguments)]
    fn line(
        &mut self,
        env: &FieldEnv<'_>,
        catalog: &Catalog,
        f: usize,
        path: &str,
        l: &LineSpec,
        owners: &mut HashMap<String, crate::spec::Owner>,
    ) -> Option<LinePlan> {
        let (target, target_ty) = compile_target(
            self.d,
            f,
            &child_path(path, "target"),
            &l.target,
            &env.target,
            catalog,
        )?;
        let Some(line_target_name) = (match &target_ty {
            FieldType::List(o) => Some(o.clone()),
            _ => None,
        }) else {
            self.d.at(
                f,
                &child_path(path, "target"),
                format!(
                    "lines go to a list field, but `{}` is {target_ty}",
                    l.target
                ),
            );
            return None;
        };
        let (source, ptype) = compile_source(
            self.d,
            f,
            &child_path(path, "source"),
            &l.source,
            &env.root,
            catalog,
        )?;
        let line_object = match &ptype.ty {
            FieldType::Ref(o) if ptype.many => Some(o.clone()),
            FieldType::List(o) => Some(o.clone()),
            _ => None,
        };
        let Some(line_object) = line_object else {
            self.d.at(
                f,
                &child_path(path, "source"),
                format!(
                    "lines come from a list of records (e.g. `$.OpportunityLineItems.records[*]`), but `{}` selects {}",
                    l.source, ptype.ty
                ),
            );
            return None;
        };
        let line_def = catalog.get(&line_object)?.clone();
        let line_target = catalog.get(&line_target_name)?.clone();
        let when_scope = Scope {
            line: Some(line_def.clone()),
            ..env.expr_scope.clone()
        };
        let when = match &l.when {
            Some(w) => self.condition(f, &child_path(path, "when"), w, &when_scope),
            None => None,
        };
        let line_env = FieldEnv {
            scope_file: env.scope_file,
            root: line_def,
            target: line_target,
            expr_scope: when_scope,
            routed: env.routed,
            write_nulls: env.write_nulls,
        };
        let label = target.as_dotted();
        let mut line_owners = HashMap::new();
        let fields = self.field_list(
            &line_env,
            At {
                file: f,
                path: &child_path(path, "fields"),
            },
            &l.fields,
            &mut line_owners,
        );
        for (k, v) in line_owners {
            owners.insert(format!("{label}.{k}"), v);
        }
        Some(LinePlan {
            label: Arc::from(label.as_str()),
            target,
            source,
            when,
            required: l.required,
            shape: Shape::of(&fields),
            reads: Reads::default(),
            fields,
        })
    }

    /// Compiles a list of field mappings, expanding groups, rejecting duplicate targets.
    fn field_list(
        &mut self,
        env: &FieldEnv<'_>,
        at: At<'_>,
        items: &[Located<FieldSpec>],
        owners: &mut HashMap<String, crate::spec::Owner>,
    ) -> Vec<FieldPlan> {
        let mut flat: Vec<(usize, String, FieldSpec)> = Vec::new();
        self.expand(env.scope_file, at, items, &mut Vec::new(), &mut flat);
        let mut out = Vec::new();
        // target → (path, has a condition). A target may be mapped again only by a
        // conditional entry (`when`), which then overrides when its condition holds.
        let mut targets: HashMap<String, (String, bool)> = HashMap::new();
        for (file, path, spec) in flat {
            let Some(plan) = self.field(env, file, &path, &spec) else {
                continue;
            };
            let label = plan.label.to_string();
            let conditional = plan.when.is_some();
            if let Some((prev, _)) = targets.get(&label)
                && !conditional
            {
                self.d.at(
                    file,
                    &child_path(&path, "target"),
                    format!("target `{label}` is already mapped (at {prev}); a second mapping of a target needs a `when`"),
                );
                continue;
            }
            targets.insert(label.clone(), (path.clone(), conditional));
            if let Some(o) = spec.owner {
                owners.insert(label, o);
            }
            out.push(plan);
        }
        out
    }

    /// Replaces `- group: name` items by the group's fields (recursively, without cycles).
    fn expand(
        &mut self,
        scope_file: usize,
        at: At<'_>,
        items: &[Located<FieldSpec>],
        stack: &mut Vec<String>,
        out: &mut Vec<(usize, String, FieldSpec)>,
    ) {
        for (i, item) in items.iter().enumerate() {
            let Some(spec) = &item.value else { continue };
            let path = if item.path.is_empty() {
                index_path(at.path, i)
            } else {
                item.path.clone()
            };
            let Some(group) = &spec.group else {
                out.push((at.file, path, spec.clone()));
                continue;
            };
            let others = spec.target.is_some()
                || spec.source.is_some()
                || spec.sources.is_some()
                || spec.value.is_some()
                || spec.constant.is_some()
                || !spec.transforms.is_empty()
                || spec.when.is_some();
            if others {
                self.d.at(
                    at.file,
                    &path,
                    "a `group` item only names the group; put other keys in the group's fields",
                );
            }
            if stack.contains(group) {
                self.d.at(
                    at.file,
                    &child_path(&path, "group"),
                    format!("field group `{group}` includes itself"),
                );
                continue;
            }
            let found = self.scopes[scope_file].iter().find_map(|sf| {
                let spec = self.spec(*sf)?;
                let g = spec.field_groups.get(group)?;
                Some((*sf, g))
            });
            match found {
                Some((gf, g)) => {
                    let Some(fields) = &g.value else { continue };
                    stack.push(group.clone());
                    self.expand(
                        scope_file,
                        At {
                            file: gf,
                            path: &g.path,
                        },
                        fields,
                        stack,
                        out,
                    );
                    stack.pop();
                }
                None => {
                    let known: Vec<&str> = self.scopes[scope_file]
                        .iter()
                        .filter_map(|sf| self.spec(*sf))
                        .flat_map(|s| s.field_groups.keys().map(String::as_str))
                        .collect();
                    self.d.undefined(
                        at.file,
                        &child_path(&path, "group"),
                        "field_groups",
                        "field group",
                        group,
                        known,
                    );
                }
            }
        }
    }

    fn field(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        spec: &FieldSpec,
    ) -> Option<FieldPlan> {
        let Some(target_text) = &spec.target else {
            self.d.at(file, path, "a field mapping needs a `target`");
            return None;
        };
        let tpath = child_path(path, "target");
        let catalog = env.expr_scope.catalog;
        let (target, target_ty) =
            compile_target(self.d, file, &tpath, target_text, &env.target, catalog)?;
        if !target_ty.is_scalar() {
            self.d.at(
                file,
                &tpath,
                format!("`{target_text}` is {target_ty}: map its fields (`{target_text}.FIELD`) or use `lines`"),
            );
            return None;
        }
        let given = [
            spec.source.is_some(),
            spec.sources.is_some(),
            spec.value.is_some(),
            spec.constant.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given != 1 {
            let m = if given == 0 {
                "give the value: one of `source`, `sources`, `value` or `const`"
            } else {
                "give only one of `source`, `sources`, `value` or `const`"
            };
            self.d.at(file, path, format!("{target_text}: {m}"));
            return None;
        }
        let (input, mut kind) = if let Some(s) = &spec.source {
            let (p, t) = compile_source(
                self.d,
                file,
                &child_path(path, "source"),
                s,
                &env.root,
                catalog,
            )?;
            let k = if t.many {
                Kind::List
            } else {
                kind_of_field(&t.ty)
            };
            (Input::Path(Read::Path(p)), k)
        } else if let Some(list) = &spec.sources {
            let mut ps = Vec::new();
            for (i, s) in list.iter().enumerate() {
                let (p, _) = compile_source(
                    self.d,
                    file,
                    &index_path(&child_path(path, "sources"), i),
                    s,
                    &env.root,
                    catalog,
                )?;
                ps.push(Read::Path(p));
            }
            (Input::Paths(ps), Kind::List)
        } else if let Some(v) = &spec.value {
            match Expr::compile(v, &self.env, &env.expr_scope) {
                Ok(e) => {
                    if e.ty == Ty::Double && matches!(target_ty, FieldType::Decimal) {
                        self.d.at(
                            file,
                            &child_path(path, "value"),
                            format!("`{v}` computes a float; map amounts with `source:` and the number / money / currency transforms, which keep them exact"),
                        );
                        return None;
                    }
                    let k = kind_of_ty(&e.ty);
                    (Input::Expr(e), k)
                }
                Err(m) => {
                    self.d.at(file, &child_path(path, "value"), m);
                    return None;
                }
            }
        } else {
            let c = spec.constant.clone().unwrap_or(Value::Null);
            let k = kind_of_json(&c);
            (Input::Const(c), k)
        };
        let mut transforms = Vec::new();
        let mut ok = true;
        for tl in &spec.transforms {
            let Some(ts) = &tl.value else {
                ok = false;
                continue;
            };
            match self.transform(env, file, &tl.path, ts, &target_ty) {
                Some(t) => {
                    match t.check(kind) {
                        Ok(k) => kind = k,
                        Err(m) => {
                            self.d.at(file, &tl.path, format!("{target_text}: {m}"));
                            ok = false;
                        }
                    }
                    transforms.push(t);
                }
                None => ok = false,
            }
        }
        if ok && let Err(m) = fits(kind, &target_ty) {
            self.d
                .at(file, path, format!("{target_text} is {target_ty}, but {m}"));
        }
        let when = match &spec.when {
            Some(w) => {
                let scope = env.expr_scope.clone();
                self.condition(file, &child_path(path, "when"), w, &scope)
            }
            None => None,
        };
        let max_len = match target_ty {
            FieldType::String { max } => max,
            _ => None,
        };
        Some(FieldPlan {
            label: Arc::from(target.as_dotted().as_str()),
            target,
            input,
            transforms,
            when,
            required: spec.required,
            write_null: spec.write_null.unwrap_or(env.write_nulls),
            max_len,
        })
    }

    fn currency_source(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        text: &str,
    ) -> Option<CurrencySource> {
        let t = text.trim();
        if t == "entity" || t == "base" {
            if !env.routed {
                self.d.at(file, path, format!("`{t}` means the routed entity's base currency, but this mapping has no `routing`"));
                return None;
            }
            return Some(CurrencySource::EntityBase);
        }
        if t.starts_with('$') {
            return compile_source(self.d, file, path, t, &env.root, env.expr_scope.catalog)
                .map(|(p, _)| CurrencySource::Path(Read::Path(p)));
        }
        match CurrencyCode::parse(t) {
            Ok(c) => Some(CurrencySource::Code(c)),
            Err(e) => {
                self.d.at(
                    file,
                    path,
                    format!("{e}; or give a JSONPath such as `$.CurrencyIsoCode`, or `entity`"),
                );
                None
            }
        }
    }

    fn transform(
        &mut self,
        env: &FieldEnv<'_>,
        file: usize,
        path: &str,
        t: &TransformSpec,
        target_ty: &FieldType,
    ) -> Option<Transform> {
        Some(match t {
            TransformSpec::Trim => Transform::Trim,
            TransformSpec::Upper => Transform::Upper,
            TransformSpec::Lower => Transform::Lower,
            TransformSpec::Title => Transform::Title,
            TransformSpec::Date(f) => Transform::Date(*f),
            TransformSpec::Datetime(f) => Transform::DateTime(*f),
            TransformSpec::Number(n) => {
                if n.decimals > 20 {
                    self.d.at(file, path, "at most 20 decimals");
                    return None;
                }
                Transform::Number {
                    decimals: n.decimals,
                    as_number: n.as_number,
                }
            }
            TransformSpec::Money(c) => {
                Transform::Money(self.currency_source(env, file, &child_path(path, "money"), c)?)
            }
            TransformSpec::Currency(c) => {
                let p = child_path(path, "currency");
                if !env.routed {
                    self.d.at(file, &p, "currency conversion uses the routed entity's rates, but this mapping has no `routing`");
                    return None;
                }
                let from = self.currency_source(env, file, &child_path(&p, "from"), &c.from);
                let to = self.currency_source(env, file, &child_path(&p, "to"), &c.to);
                Transform::Convert {
                    from: from?,
                    to: to?,
                }
            }
            TransformSpec::Lookup(name) => {
                match find(
                    &self.pieces,
                    &self.scopes[env.scope_file],
                    |p| &p.lookups,
                    name,
                ) {
                    Some(t) => Transform::Lookup(t.clone()),
                    None => {
                        let known =
                            names(&self.pieces, &self.scopes[env.scope_file], |p| &p.lookups);
                        self.d.undefined(
                            file,
                            &child_path(path, "lookup"),
                            "lookups",
                            "lookup table",
                            name,
                            known,
                        );
                        return None;
                    }
                }
            }
            TransformSpec::Default(v) => Transform::Default(v.clone()),
            TransformSpec::Concat(sep) => Transform::Concat(sep.clone()),
            TransformSpec::Split(s) => {
                if s.separator.is_empty() {
                    self.d
                        .at(file, &child_path(path, "split"), "the separator is empty");
                    return None;
                }
                Transform::Split {
                    separator: s.separator.clone(),
                    index: s.index,
                }
            }
            TransformSpec::Replace(r) => match regex::Regex::new(&r.pattern) {
                Ok(re) => Transform::Replace {
                    pattern: Arc::new(re),
                    with: r.with.clone(),
                    // `$` in the replacement refers to groups: only the regex expands it.
                    class: if r.with.contains('$') {
                        None
                    } else {
                        CharClass::of(&r.pattern).map(Arc::new)
                    },
                },
                Err(e) => {
                    self.d.at(
                        file,
                        &child_path(&child_path(path, "replace"), "pattern"),
                        format!("bad regular expression: {e}"),
                    );
                    return None;
                }
            },
            TransformSpec::Truncate => match target_ty {
                FieldType::String { max: Some(n) } => Transform::Truncate(*n),
                other => {
                    self.d.at(file, path, format!("`truncate` cuts to the target's declared length, but the target is {other}; declare it as string(N) or use `truncate_to: N`"));
                    return None;
                }
            },
            TransformSpec::TruncateTo(n) => {
                if *n == 0 {
                    self.d.at(file, path, "truncate_to needs a length above 0");
                    return None;
                }
                Transform::Truncate(*n)
            }
            TransformSpec::Country(c) => Transform::Country(*c),
            TransformSpec::State(s) => {
                let country = match &s.country {
                    Some(c) => {
                        let p = child_path(&child_path(path, "state"), "country");
                        Some(Read::Path(
                            compile_source(self.d, file, &p, c, &env.root, env.expr_scope.catalog)?
                                .0,
                        ))
                    }
                    None => None,
                };
                Transform::State { to: s.to, country }
            }
        })
    }

    fn tests(
        &mut self,
        f: usize,
        flow: Flow,
        mappings: &BTreeMap<String, Arc<MappingPlan>>,
        out: &mut Vec<CompiledTest>,
    ) {
        let Some(spec) = self.spec(f) else { return };
        let mut names = BTreeSet::new();
        for tl in &spec.tests {
            let Some(t) = &tl.value else { continue };
            if !names.insert(t.name.clone()) {
                self.d.at(
                    f,
                    &child_path(&tl.path, "name"),
                    format!("test name `{}` is used twice", t.name),
                );
            }
            if !mappings.contains_key(&t.mapping) {
                if spec.mappings.contains_key(&t.mapping) {
                    // Declared but did not compile: its errors are already reported.
                    continue;
                }
                let known: Vec<&str> = mappings.keys().map(String::as_str).collect();
                self.d.undefined(
                    f,
                    &child_path(&tl.path, "mapping"),
                    "mappings",
                    "mapping",
                    &t.mapping,
                    known,
                );
                continue;
            }
            let e = &t.expect;
            let kinds = [e.output.is_some(), e.skipped, e.error.is_some()]
                .iter()
                .filter(|x| **x)
                .count();
            if kinds > 1 || (kinds == 0 && e.match_keys.is_none()) {
                self.d.at(f, &child_path(&tl.path, "expect"), "expect one of `output`, `skipped` or `error` (and optionally `entity`, `match_keys`)");
                continue;
            }
            let rates = self.rates(f, &child_path(&tl.path, "rates"), &t.rates);
            let line = self.files[f]
                .doc
                .as_ref()
                .map(|d| d.pos(&tl.path).line)
                .unwrap_or(1);
            out.push(CompiledTest {
                file: self.files[f].name.clone(),
                line,
                flow,
                spec: t.clone(),
                rates,
            });
        }
    }
}

fn compile_source(
    d: &mut Diags<'_>,
    file: usize,
    path: &str,
    text: &str,
    object: &ObjectDef,
    catalog: &Catalog,
) -> Option<(SourcePath, PathType)> {
    match SourcePath::compile(text, object, catalog) {
        Ok(x) => Some(x),
        Err(m) => {
            d.at(file, path, m);
            None
        }
    }
}

fn compile_target(
    d: &mut Diags<'_>,
    file: usize,
    path: &str,
    text: &str,
    object: &ObjectDef,
    catalog: &Catalog,
) -> Option<(TargetPath, FieldType)> {
    let resolved = TargetPath::parse(text)
        .and_then(|t| catalog.resolve(object, &t.segments).map(|ty| (t, ty)));
    match resolved {
        Ok(x) => Some(x),
        Err(m) => {
            d.at(file, path, format!("target `{text}`: {m}"));
            None
        }
    }
}

fn kind_of_field(t: &FieldType) -> Kind {
    match t {
        FieldType::String { .. } | FieldType::Id => Kind::Text,
        FieldType::Bool => Kind::Bool,
        FieldType::Int | FieldType::Decimal => Kind::Number,
        FieldType::Date => Kind::Date,
        FieldType::DateTime => Kind::DateTime,
        FieldType::Any => Kind::Any,
        FieldType::Ref(_) => Kind::Object,
        FieldType::List(_) | FieldType::Children(_) => Kind::List,
    }
}

fn kind_of_ty(t: &Ty) -> Kind {
    match t {
        Ty::String => Kind::Text,
        Ty::Int | Ty::Uint | Ty::Double => Kind::Number,
        Ty::Bool => Kind::Bool,
        Ty::List(_) => Kind::List,
        Ty::Map(..) | Ty::Object(_) | Ty::Children(_) | Ty::Entity => Kind::Object,
        Ty::Dyn | Ty::Null | Ty::Bytes => Kind::Any,
    }
}

/// Whether a value of `kind` can be written to a field of type `ty`. Text goes anywhere (both
/// APIs read numbers, dates and booleans from text); the rest must agree.
fn fits(kind: Kind, ty: &FieldType) -> Result<(), String> {
    let ok = match (kind, ty) {
        (Kind::Any | Kind::Text, _) => true,
        (_, FieldType::Any) => true,
        (
            Kind::Number,
            FieldType::Int | FieldType::Decimal | FieldType::String { .. } | FieldType::Id,
        ) => true,
        (Kind::Bool, FieldType::Bool | FieldType::String { .. }) => true,
        (Kind::Date, FieldType::Date | FieldType::String { .. }) => true,
        (Kind::DateTime, FieldType::DateTime | FieldType::String { .. }) => true,
        // Intacct legacy dates are {year, month, day}.
        (Kind::Object, FieldType::Date) => true,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the value is {}{}",
            kind.name(),
            if kind == Kind::List {
                " (join it with `concat`)"
            } else {
                ""
            }
        ))
    }
}
