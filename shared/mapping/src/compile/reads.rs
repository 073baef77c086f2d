//! What a compiled mapping reads from its source record ([`SourceReads`]), collected from every
//! part of the plan once it is complete and before its paths are turned into slots.

use std::sync::Arc;

use crate::expr::{Expr, Var};
use crate::path::{Read, SourcePath, TargetPath};
use crate::plan::{FieldPlan, Input, MappingPlan};
use crate::reads::{ReadSet, SourceReads, Step, line_prefix, steps_of};
use crate::schema::{Catalog, ObjectDef};
use crate::transform::{CurrencySource, Transform};

/// Where the paths of one field list start: the record's object, and the steps from the
/// mapping's source record to it (empty for the record, a line collection's `…, Each` for
/// its lines).
struct Origin<'p> {
    object: &'p ObjectDef,
    prefix: &'p [Step],
}

struct Collector<'c> {
    set: ReadSet<'c>,
    catalog: &'c Catalog,
}

impl Collector<'_> {
    fn steps(&mut self, at: &Origin<'_>, steps: impl IntoIterator<Item = Step>) {
        let mut all = at.prefix.to_vec();
        all.extend(steps);
        self.set.add(&all);
    }

    /// A source path read as a value (whole, when it selects a record or a list).
    fn path(&mut self, at: &Origin<'_>, path: &SourcePath) {
        for mut steps in steps_of(path, at.object, self.catalog) {
            steps.push(Step::All);
            self.steps(at, steps);
        }
    }

    fn read(&mut self, at: &Origin<'_>, read: &Read) {
        if let Read::Path(p) = read {
            self.path(at, p);
        }
    }

    /// `record.…` from the source record, `line.…` from the line (`line` is only in scope
    /// where there is one).
    fn expr(&mut self, line: &Origin<'_>, e: &Expr) {
        for (var, steps) in e.reads() {
            match var {
                Var::Line => self.steps(line, steps),
                _ => self.set.add(&steps),
            }
        }
    }

    fn currency(&mut self, at: &Origin<'_>, c: &CurrencySource) {
        if let CurrencySource::Path(p) = c {
            self.read(at, p);
        }
    }

    fn fields(&mut self, at: &Origin<'_>, fields: &[FieldPlan]) {
        for f in fields {
            match &f.input {
                Input::Path(p) => self.read(at, p),
                Input::Paths(ps) => ps.iter().for_each(|p| self.read(at, p)),
                Input::Expr(e) => self.expr(at, e),
                Input::Const(_) => {}
            }
            if let Some(w) = &f.when {
                self.expr(at, w);
            }
            for t in &f.transforms {
                match t {
                    Transform::Money(c) => self.currency(at, c),
                    Transform::Convert { from, to, date } => {
                        self.currency(at, from);
                        self.currency(at, to);
                        self.read(at, date);
                    }
                    Transform::State {
                        country: Some(p), ..
                    } => self.read(at, p),
                    _ => {}
                }
            }
        }
    }
}

/// Everything `plan` reads from a source record of `source`. Called before
/// `MappingPlan::intern_reads`, while every path is still a path.
pub(super) fn source_reads(
    plan: &MappingPlan,
    catalog: &Catalog,
    source: &Arc<ObjectDef>,
) -> SourceReads {
    let mut c = Collector {
        set: ReadSet::new(catalog, source.clone()),
        catalog,
    };
    let root = Origin {
        object: source,
        prefix: &[],
    };
    if let Some(w) = &plan.when {
        c.expr(&root, w);
    }
    if let Some(r) = &plan.routing {
        for rule in &r.rules {
            c.expr(&root, &rule.when);
        }
    }
    if let Some(m) = &plan.matching {
        for part in m.keys.iter().flat_map(|k| &k.parts) {
            c.path(&root, &part.source);
        }
        if let Some(z) = &m.fuzzy {
            c.path(&root, &z.source);
        }
    }
    if let Some(p) = &plan.ownership.source_modified {
        c.path(&root, p);
    }
    c.fields(&root, &plan.fields);
    for lp in &plan.lines {
        for steps in steps_of(&lp.source, source, catalog) {
            // The collection itself is read even when no line field reads anything (and its
            // lines whole when a filter picks them).
            c.set.add(&steps);
            let prefix = line_prefix(steps);
            let line = Origin {
                object: &lp.object,
                prefix: &prefix,
            };
            if let Some(w) = &lp.when {
                c.expr(&line, w);
            }
            c.fields(&line, &lp.fields);
        }
    }
    c.set.finish()
}

/// What a flow reads of the target record before it writes: every field the mapping writes
/// outside line collections (to diff against), what matching compares candidates on, the
/// target's modification time (ownership), and the target's id fields.
pub(super) fn target_reads(
    plan: &MappingPlan,
    catalog: &Catalog,
    target: &Arc<ObjectDef>,
) -> SourceReads {
    let mut set = ReadSet::new(catalog, target.clone());
    let mut add = |p: &TargetPath| {
        let mut steps: Vec<Step> = p.segments.iter().map(|s| Step::Name(s.clone())).collect();
        steps.push(Step::All);
        set.add(&steps);
    };
    plan.fields.iter().for_each(|f| add(&f.target));
    if let Some(m) = &plan.matching {
        m.keys
            .iter()
            .flat_map(|k| &k.parts)
            .for_each(|part| add(&part.target));
        if let Some(z) = &m.fuzzy {
            add(&z.target);
        }
    }
    if let Some(p) = &plan.ownership.target_modified {
        add(p);
    }
    set.finish()
}
