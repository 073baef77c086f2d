//! Matching (dedup) rules.

use std::sync::Arc;

use super::Compiler;
use crate::matching::{Fuzzy, KeyPart, MatchKey, MatchPlan};
use crate::spec::MatchingSpec;
use crate::yaml::child_path;

impl Compiler<'_, '_> {
    pub(super) fn matching(&mut self, f: usize) {
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
}
