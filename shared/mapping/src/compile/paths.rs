//! Source paths (JSONPath) and target paths, checked against the declared objects.

use super::{Compiler, Diags};
use crate::path::{PathType, SourcePath, TargetPath};
use crate::schema::{Catalog, FieldType, ObjectDef};

impl Compiler<'_, '_> {
    pub(super) fn source_path(
        &mut self,
        f: usize,
        path: &str,
        text: &str,
        object: &ObjectDef,
    ) -> Option<(SourcePath, PathType)> {
        compile_source(self.d, f, path, text, object, &self.catalogs[f])
    }

    pub(super) fn target_field(
        &mut self,
        f: usize,
        path: &str,
        text: &str,
        object: &ObjectDef,
    ) -> Option<(TargetPath, FieldType)> {
        compile_target(self.d, f, path, text, object, &self.catalogs[f])
    }
}

pub(super) fn compile_source(
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

pub(super) fn compile_target(
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
