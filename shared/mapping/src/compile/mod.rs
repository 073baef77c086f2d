//! Spec files → compiled plans. Every path, transform argument, lookup table reference,
//! expression and entity reference is checked; every problem is reported with its file, line,
//! column and field, all at once.
//!
//! This file holds the compiler's state, the order of the passes and name resolution; each
//! concern has its module: `objects` (declarations, lookups, entities), `routing`,
//! `matching`, `paths` (source and target paths), `mapping` (mappings and lines), `fields`
//! (field mappings and groups), `transforms`, `ownership`, `reads` (what a plan reads) and
//! `cases` (the test cases).

mod cases;
mod fields;
mod mapping;
mod matching;
mod objects;
mod ownership;
mod paths;
mod reads;
mod routing;
mod transforms;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use lf_domain::Flow;

use crate::describe::ObjectDescribe;
use crate::error::{Diagnostic, Diagnostics};
use crate::expr::{CelEnv, Expr, Scope, Ty};
use crate::matching::MatchPlan;
use crate::plan::MappingPlan;
use crate::rates::Rates;
use crate::routing::{Entity, RoutingPlan};
use crate::schema::{Catalog, ObjectDef};
use crate::spec::{SpecFile, TestSpec};
use crate::suggest::did_you_mean;
use crate::transform::LookupTable;
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
    /// Every entity the specs define, by id.
    pub entities: BTreeMap<String, Arc<Entity>>,
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
            entities: self
                .pieces
                .iter()
                .flat_map(|p| p.entities.values())
                .map(|e| (e.id.as_str().to_owned(), e.clone()))
                .collect(),
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
}
