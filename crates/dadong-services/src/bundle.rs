//! One-thing bundles (一件事) as data: several matters composed as a dependency graph, with one
//! combined form whose shared fields are entered once and fill every matter that needs them.
//!
//! A bundle is a JSON document ([`BundleDef`]), written by an administrator or shipped in
//! `bundles/`, never code. [`BundleDef::validate`] checks it against the catalog and returns
//! every problem at once, or a [`ValidBundle`] that can be run: which steps are ready, in which
//! order they run, how long the whole bundle is promised to take, and how a filled combined
//! form maps onto each matter's fields.
//!
//! A step starts when every step it `needs` is done; steps without a need between them run in
//! parallel, usually in different departments. Each matter appears at most once in a bundle,
//! so that a form field can name the matter it fills without ambiguity.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use dadong_domain::{CreditCode, Fen, ResidentId};
use serde::{Deserialize, Serialize};

use crate::catalog::Matter;

/// Most steps in one bundle. The largest real bundles (construction approval) have a few dozen.
pub const STEPS_MAX: usize = 200;
/// Most fields in one combined form.
pub const FORM_FIELDS_MAX: usize = 500;
/// Longest id (of a bundle, step, form field or matter field), in characters.
pub const ID_CHARS_MAX: usize = 64;
/// Longest value of a text field in the combined form, in characters.
pub const TEXT_CHARS_MAX: usize = 2000;
/// Largest bundle definition accepted, in bytes.
pub const JSON_BYTES_MAX: usize = 1 << 20;

/// A bundle as written in its JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleDef {
    /// Stable identifier, e.g. `open_company`.
    pub id: String,
    /// The name shown to applicants, e.g. 开办企业.
    pub name: String,
    pub steps: Vec<StepDef>,
    /// The combined form; may be empty.
    #[serde(default)]
    pub form: Vec<FormField>,
}

/// One step: one matter done by one department once its needs are done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepDef {
    pub id: String,
    /// The catalog code of the matter this step does.
    pub matter: String,
    /// The department that acts on it; must be the matter's own department.
    pub department: String,
    /// Ids of the steps that must be done before this one starts.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Material codes this step's result provides to the steps after it (the licence step
    /// produces `business_licence`), so the applicant is not asked to hand them in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub produces: Vec<String>,
}

/// A shared field of the combined form, entered once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    pub id: String,
    pub label: String,
    pub kind: FieldKind,
    pub required: bool,
    /// The fields of the bundle's matters this value fills.
    pub fills: Vec<FieldTarget>,
}

/// A field of one matter's own application form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldTarget {
    /// A matter code of one of the bundle's steps.
    pub matter: String,
    pub field: String,
}

/// What a form field holds, and so how its value is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// A resident ID number (GB 11643), check digit verified. Personal data.
    IdNumber,
    /// A Unified Social Credit Code (GB 32100), check character verified.
    CreditCode,
    /// A mainland mobile number. Personal data.
    Phone,
    /// `YYYY-MM-DD`.
    Date,
    /// An amount in yuan with at most two decimals, not negative.
    Money,
}

impl FieldKind {
    /// The value in its normal form (upper-case check letters, digits only for a phone, two
    /// decimals for money), or why it is not a value of this kind.
    pub fn normalize(self, value: &str) -> Result<String, String> {
        let value = value.trim();
        match self {
            FieldKind::Text => {
                if value.chars().count() > TEXT_CHARS_MAX {
                    Err(format!("longer than {TEXT_CHARS_MAX} characters"))
                } else if value.chars().any(char::is_control) {
                    Err("contains a line break or another control character".to_string())
                } else {
                    Ok(value.to_string())
                }
            }
            FieldKind::IdNumber => ResidentId::parse(value)
                .map(|id| id.as_str().to_string())
                .map_err(|e| format!("not a valid resident ID number: {e}")),
            FieldKind::CreditCode => CreditCode::parse(value)
                .map(|code| code.as_str().to_string())
                .map_err(|e| format!("not a valid credit code: {e}")),
            FieldKind::Phone => dadong_domain::crypto::parse_phone(value),
            FieldKind::Date => {
                let shape = value.len() == 10 && value.as_bytes()[4] == b'-' && value.as_bytes()[7] == b'-';
                match value.parse::<jiff::civil::Date>() {
                    Ok(date) if shape => Ok(date.to_string()),
                    _ => Err("not a real date of the form YYYY-MM-DD".to_string()),
                }
            }
            FieldKind::Money => Fen::parse_yuan_non_negative(value)
                .map(Fen::to_yuan_string)
                .map_err(|_| "not an amount in yuan with at most two decimals, like 1000 or 12.50".to_string()),
        }
    }
}

/// Why a bundle definition was refused. Every problem is reported, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("the bundle definition is not valid: {0}")]
    Json(String),
    #[error("the {what} id '{id}' is not valid: use 1 to {ID_CHARS_MAX} ASCII letters, digits, '_', '-' or '.'")]
    BadId { what: &'static str, id: String },
    #[error("the bundle has no steps")]
    NoSteps,
    #[error("the bundle has {count} {what}, more than the {max} allowed")]
    TooMany { what: &'static str, count: usize, max: usize },
    #[error("step '{step}' is defined twice")]
    DuplicateStep { step: String },
    #[error("step '{step}' needs '{need}', which is not a step of this bundle")]
    DanglingNeed { step: String, need: String },
    #[error("step '{step}' lists '{need}' twice in its needs")]
    DuplicateNeed { step: String, need: String },
    /// `steps[0]` needs `steps[1]`, …, and the last needs `steps[0]` again.
    #[error(
        "the steps {} need each other in a cycle ({}), so none of them could ever start",
        quoted(steps),
        cycle_path(steps)
    )]
    Cycle { steps: Vec<String> },
    #[error("step '{step}' does matter '{matter}', which is not in the catalog")]
    UnknownMatter { step: String, matter: String },
    #[error("matter '{matter}' is done by both step '{first}' and step '{second}': a matter appears once per bundle")]
    DuplicateMatter { matter: String, first: String, second: String },
    #[error("step '{step}' is given to department '{department}', but its matter '{matter}' is handled by '{matter_department}'")]
    DepartmentMismatch {
        step: String,
        matter: String,
        department: String,
        matter_department: String,
    },
    #[error("step '{step}' produces material '{material}', which no other step of this bundle asks for")]
    UselessProduct { step: String, material: String },
    #[error("form field '{field}' is defined twice")]
    DuplicateField { field: String },
    #[error("form field '{field}' fills matter '{matter}', which is not done by any step of this bundle")]
    FieldMatterNotInBundle { field: String, matter: String },
    #[error("form field '{field}' fills no matter field")]
    FieldFillsNothing { field: String },
    #[error("the field '{target}' of matter '{matter}' is filled by both form field '{first}' and '{second}'")]
    FieldFilledTwice {
        matter: String,
        target: String,
        first: String,
        second: String,
    },
}

fn quoted(steps: &[String]) -> String {
    steps.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ")
}

fn cycle_path(steps: &[String]) -> String {
    let mut path: Vec<&str> = steps.iter().map(String::as_str).collect();
    path.extend(steps.first().map(String::as_str));
    path.join(" needs ")
}

/// Why a filled combined form was refused, per field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("form field '{field}': {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl BundleDef {
    /// Reads a bundle definition from JSON. Unknown keys are refused, so that a misspelt
    /// `need` does not silently drop a dependency.
    pub fn from_json(text: &str) -> Result<BundleDef, BundleError> {
        if text.len() > JSON_BYTES_MAX {
            return Err(BundleError::Json(format!("larger than {JSON_BYTES_MAX} bytes")));
        }
        serde_json::from_str(text).map_err(|e| BundleError::Json(e.to_string()))
    }

    /// The definition as pretty JSON, as the shipped files are written.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a bundle definition always serializes")
    }

    /// Checks the definition against `catalog` and returns every problem found: bad or
    /// duplicate ids, needs that name no step, cycles (each named by its steps), unknown
    /// matters, a step given to another department than its matter's, form fields that fill
    /// matters outside the bundle, and a bundle without steps.
    pub fn validate(&self, catalog: &[Matter]) -> Result<ValidBundle, Vec<BundleError>> {
        let mut errors = Vec::new();
        if self.steps.is_empty() {
            errors.push(BundleError::NoSteps);
        }
        for (what, count, max) in [("steps", self.steps.len(), STEPS_MAX), ("form fields", self.form.len(), FORM_FIELDS_MAX)] {
            if count > max {
                return Err(vec![BundleError::TooMany { what, count, max }]);
            }
        }
        check_id(&mut errors, "bundle", &self.id);

        // Steps and their needs, as indices into `self.steps` (the first of duplicate ids).
        let mut first_index_of: HashMap<&str, usize> = HashMap::new();
        for (i, step) in self.steps.iter().enumerate() {
            check_id(&mut errors, "step", &step.id);
            if first_index_of.contains_key(step.id.as_str()) {
                errors.push(BundleError::DuplicateStep { step: step.id.clone() });
            } else {
                first_index_of.insert(&step.id, i);
            }
        }
        let mut needs: Vec<Vec<usize>> = vec![Vec::new(); self.steps.len()];
        for (i, step) in self.steps.iter().enumerate() {
            for need in &step.needs {
                match first_index_of.get(need.as_str()) {
                    None => errors.push(BundleError::DanglingNeed {
                        step: step.id.clone(),
                        need: need.clone(),
                    }),
                    Some(&j) if needs[i].contains(&j) => errors.push(BundleError::DuplicateNeed {
                        step: step.id.clone(),
                        need: need.clone(),
                    }),
                    Some(&j) => needs[i].push(j),
                }
            }
        }
        for cycle in cycles(&needs) {
            errors.push(BundleError::Cycle {
                steps: cycle.into_iter().map(|i| self.steps[i].id.clone()).collect(),
            });
        }

        // Matters.
        let catalog_by_code: HashMap<&str, &Matter> = catalog.iter().map(|m| (m.code.as_str(), m)).collect();
        let mut step_of_matter: HashMap<&str, &str> = HashMap::new();
        let mut matters = Vec::with_capacity(self.steps.len());
        for step in &self.steps {
            if let Some(first) = step_of_matter.insert(&step.matter, &step.id) {
                errors.push(BundleError::DuplicateMatter {
                    matter: step.matter.clone(),
                    first: first.to_string(),
                    second: step.id.clone(),
                });
                step_of_matter.insert(&step.matter, first);
            }
            match catalog_by_code.get(step.matter.as_str()) {
                None => errors.push(BundleError::UnknownMatter {
                    step: step.id.clone(),
                    matter: step.matter.clone(),
                }),
                Some(matter) if matter.department != step.department => errors.push(BundleError::DepartmentMismatch {
                    step: step.id.clone(),
                    matter: step.matter.clone(),
                    department: step.department.clone(),
                    matter_department: matter.department.clone(),
                }),
                Some(matter) => matters.push((*matter).clone()),
            }
        }

        // What steps produce must be something another step of the bundle asks for.
        for step in &self.steps {
            for product in &step.produces {
                let asked = matters
                    .iter()
                    .any(|m: &Matter| m.code != step.matter && m.materials.iter().any(|x| &x.code == product));
                if !asked {
                    errors.push(BundleError::UselessProduct {
                        step: step.id.clone(),
                        material: product.clone(),
                    });
                }
            }
        }

        // The combined form.
        let mut field_ids = BTreeSet::new();
        let mut filled_by: HashMap<&FieldTarget, &str> = HashMap::new();
        for field in &self.form {
            check_id(&mut errors, "form field", &field.id);
            if !field_ids.insert(field.id.as_str()) {
                errors.push(BundleError::DuplicateField { field: field.id.clone() });
            }
            if field.fills.is_empty() {
                errors.push(BundleError::FieldFillsNothing { field: field.id.clone() });
            }
            for target in &field.fills {
                check_id(&mut errors, "matter field", &target.field);
                if !step_of_matter.contains_key(target.matter.as_str()) {
                    errors.push(BundleError::FieldMatterNotInBundle {
                        field: field.id.clone(),
                        matter: target.matter.clone(),
                    });
                } else if let Some(first) = filled_by.insert(target, &field.id) {
                    errors.push(BundleError::FieldFilledTwice {
                        matter: target.matter.clone(),
                        target: target.field.clone(),
                        first: first.to_string(),
                        second: field.id.clone(),
                    });
                    filled_by.insert(target, first);
                }
            }
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let order = topological_order(&needs);
        Ok(ValidBundle {
            def: self.clone(),
            matters,
            needs,
            order,
        })
    }
}

fn check_id(errors: &mut Vec<BundleError>, what: &'static str, id: &str) {
    let valid = !id.is_empty() && id.len() <= ID_CHARS_MAX && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        errors.push(BundleError::BadId { what, id: id.to_string() });
    }
}

/// Every cycle found by a depth-first search along needs (one per edge that closes a cycle),
/// each as step indices where each needs the next and the last needs the first, rotated to
/// start at its lowest index, without repeats.
fn cycles(needs: &[Vec<usize>]) -> Vec<Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Colour {
        New,
        OnPath,
        Finished,
    }
    fn visit(i: usize, needs: &[Vec<usize>], colour: &mut [Colour], path: &mut Vec<usize>, found: &mut Vec<Vec<usize>>) {
        colour[i] = Colour::OnPath;
        path.push(i);
        for &j in &needs[i] {
            match colour[j] {
                Colour::New => visit(j, needs, colour, path, found),
                Colour::OnPath => {
                    let start = path.iter().position(|&k| k == j).expect("a step on the path is in it");
                    let mut cycle = path[start..].to_vec();
                    let lowest = cycle.iter().enumerate().min_by_key(|(_, k)| **k).map_or(0, |(p, _)| p);
                    cycle.rotate_left(lowest);
                    if !found.contains(&cycle) {
                        found.push(cycle);
                    }
                }
                Colour::Finished => {}
            }
        }
        path.pop();
        colour[i] = Colour::Finished;
    }
    // The recursion is as deep as the longest chain of needs, at most STEPS_MAX.
    let mut colour = vec![Colour::New; needs.len()];
    let mut found = Vec::new();
    let mut path = Vec::new();
    for i in 0..needs.len() {
        if colour[i] == Colour::New {
            visit(i, needs, &mut colour, &mut path, &mut found);
        }
    }
    found
}

/// Needs before the steps that need them; among steps free to go, the one defined first.
/// Only called on an acyclic graph.
fn topological_order(needs: &[Vec<usize>]) -> Vec<usize> {
    let mut waiting_on: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); needs.len()];
    for (i, ns) in needs.iter().enumerate() {
        for &j in ns {
            needed_by[j].push(i);
        }
    }
    let mut free: BTreeSet<usize> = (0..needs.len()).filter(|&i| waiting_on[i] == 0).collect();
    let mut order = Vec::with_capacity(needs.len());
    while let Some(i) = free.pop_first() {
        order.push(i);
        for &k in &needed_by[i] {
            waiting_on[k] -= 1;
            if waiting_on[k] == 0 {
                free.insert(k);
            }
        }
    }
    debug_assert_eq!(order.len(), needs.len(), "validated bundles are acyclic");
    order
}

/// A bundle checked against the catalog: acyclic, every step's matter known and in the right
/// department. It keeps a copy of each step's matter, so it runs without the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidBundle {
    def: BundleDef,
    /// The matter of each step, in the order of `def.steps`.
    matters: Vec<Matter>,
    /// For each step, the indices of the steps it needs.
    needs: Vec<Vec<usize>>,
    /// Step indices in topological order.
    order: Vec<usize>,
}

impl ValidBundle {
    pub fn def(&self) -> &BundleDef {
        &self.def
    }

    pub fn id(&self) -> &str {
        &self.def.id
    }

    pub fn name(&self) -> &str {
        &self.def.name
    }

    /// The steps in the order the definition lists them.
    pub fn steps(&self) -> &[StepDef] {
        &self.def.steps
    }

    /// The step's matter as the catalog had it when the bundle was validated.
    pub fn matter_of(&self, step: &str) -> Option<&Matter> {
        self.index(step).map(|i| &self.matters[i])
    }

    /// The matters of the steps, in the order of [`ValidBundle::steps`].
    pub fn matters(&self) -> &[Matter] {
        &self.matters
    }

    fn index(&self, step: &str) -> Option<usize> {
        self.def.steps.iter().position(|s| s.id == step)
    }

    /// The steps that may start now: not done, and every step they need done. Unknown ids in
    /// `done` are ignored. In topological order.
    pub fn ready_steps(&self, done: &BTreeSet<String>) -> Vec<&str> {
        self.order
            .iter()
            .filter(|&&i| !done.contains(&self.def.steps[i].id))
            .filter(|&&i| self.needs[i].iter().all(|&j| done.contains(&self.def.steps[j].id)))
            .map(|&i| self.def.steps[i].id.as_str())
            .collect()
    }

    /// Every step after the steps it needs; among steps free to go, the one defined first.
    pub fn topological_order(&self) -> Vec<&str> {
        self.order.iter().map(|&i| self.def.steps[i].id.as_str()).collect()
    }

    /// The promised time of the whole bundle when every department acts in time: the sum of
    /// the time limits (working days) along the longest chain of needs.
    pub fn critical_path_days(&self) -> u32 {
        let (finish, _) = self.longest_paths();
        finish.into_iter().max().unwrap_or(0)
    }

    /// The steps of that longest chain, first to last (the first defined, of equally long ones).
    pub fn critical_path(&self) -> Vec<&str> {
        let (finish, previous) = self.longest_paths();
        let Some(mut i) = (0..finish.len()).max_by_key(|&i| (finish[i], std::cmp::Reverse(i))) else {
            return Vec::new();
        };
        let mut path = vec![i];
        while let Some(p) = previous[i] {
            path.push(p);
            i = p;
        }
        path.into_iter().rev().map(|i| self.def.steps[i].id.as_str()).collect()
    }

    /// For each step, the working days until it is done at the latest, and the need on the
    /// longest chain before it.
    fn longest_paths(&self) -> (Vec<u32>, Vec<Option<usize>>) {
        let n = self.def.steps.len();
        let mut finish = vec![0u32; n];
        let mut previous = vec![None; n];
        for &i in &self.order {
            let before = self.needs[i].iter().copied().max_by_key(|&j| (finish[j], std::cmp::Reverse(j)));
            previous[i] = before;
            finish[i] = before.map_or(0, |j| finish[j]).saturating_add(self.matters[i].time_limit_days);
        }
        (finish, previous)
    }

    /// Checks a filled combined form (field id → value) and spreads it over the matters:
    /// matter code → that matter's field → value, each value in its normal form. A required
    /// field left empty, an unknown field and a value of the wrong kind are each an error.
    /// Empty optional fields fill nothing.
    pub fn fill_form(&self, values: &BTreeMap<String, String>) -> Result<BTreeMap<String, BTreeMap<String, String>>, Vec<FieldError>> {
        let mut errors = Vec::new();
        for id in values.keys() {
            if !self.def.form.iter().any(|f| &f.id == id) {
                errors.push(FieldError {
                    field: id.clone(),
                    reason: "not a field of this bundle's form".to_string(),
                });
            }
        }
        let mut filled: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for field in &self.def.form {
            let value = values.get(&field.id).map_or("", |v| v.trim());
            if value.is_empty() {
                if field.required {
                    errors.push(FieldError {
                        field: field.id.clone(),
                        reason: "required: enter a value".to_string(),
                    });
                }
                continue;
            }
            match field.kind.normalize(value) {
                Ok(value) => {
                    for target in &field.fills {
                        filled.entry(target.matter.clone()).or_default().insert(target.field.clone(), value.clone());
                    }
                }
                Err(reason) => errors.push(FieldError {
                    field: field.id.clone(),
                    reason,
                }),
            }
        }
        if errors.is_empty() { Ok(filled) } else { Err(errors) }
    }
}

impl fmt::Display for ValidBundle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.def.name, self.def.id)
    }
}

// ---------------------------------------------------------------------------------------------
// What ships with the platform

/// The bundle files shipped in `bundles/`, by file name.
pub const SHIPPED_BUNDLE_FILES: &[(&str, &str)] = &[
    ("open_company.json", include_str!("../bundles/open_company.json")),
    ("construction_approval.json", include_str!("../bundles/construction_approval.json")),
];

/// The catalog entries the shipped bundles need, as a catalog CSV file.
pub const SHIPPED_MATTERS_CSV: &str = include_str!("../data/shipped_matters.csv");

/// The department codes the shipped matters are handled by: each is a code of the district's
/// departments (`DEPARTMENTS` in `dadong-demo`), which must therefore include them all.
pub const SHIPPED_DEPARTMENTS: &[&str] = &[
    "market",
    "police",
    "tax",
    "bank",
    "hrss",
    "ndrc",
    "natural_resources",
    "construction",
    "ecology",
];

/// The shipped bundle definitions: `open_company` and `construction_approval`. Validate them
/// against the catalog in use with [`BundleDef::validate`]; against [`shipped_matters`] they
/// are valid (a test checks it).
pub fn shipped_bundles() -> Vec<BundleDef> {
    SHIPPED_BUNDLE_FILES
        .iter()
        .map(|(file, text)| BundleDef::from_json(text).unwrap_or_else(|e| panic!("the shipped bundle {file} parses: {e}")))
        .collect()
}

/// The catalog entries the shipped bundles need.
pub fn shipped_matters() -> Vec<Matter> {
    crate::catalog::parse_matters(SHIPPED_MATTERS_CSV.as_bytes(), crate::catalog::FileFormat::Csv, SHIPPED_DEPARTMENTS)
        .unwrap_or_else(|errors| panic!("the shipped matters parse: {errors:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Channel, Level};
    use proptest::prelude::*;

    fn matter(code: &str, department: &str, days: u32) -> Matter {
        Matter {
            code: code.to_string(),
            name: format!("事项 {code}"),
            department: department.to_string(),
            legal_basis: "依据".to_string(),
            materials: Vec::new(),
            time_limit_days: days,
            fee: Fen(0),
            level: Level::FullOnline,
            channels: BTreeSet::from([Channel::Platform]),
        }
    }

    fn step(id: &str, matter: &str, department: &str, needs: &[&str]) -> StepDef {
        StepDef {
            id: id.to_string(),
            matter: matter.to_string(),
            department: department.to_string(),
            needs: needs.iter().map(|n| n.to_string()).collect(),
            produces: Vec::new(),
        }
    }

    fn bundle(steps: Vec<StepDef>) -> BundleDef {
        BundleDef {
            id: "test".to_string(),
            name: "测试".to_string(),
            steps,
            form: Vec::new(),
        }
    }

    /// Matters `m0`…`m9` in department `market`, each promising `i` working days.
    fn catalog() -> Vec<Matter> {
        (0..10).map(|i| matter(&format!("m{i}"), "market", i)).collect()
    }

    fn shipped(id: &str) -> ValidBundle {
        let def = shipped_bundles().into_iter().find(|b| b.id == id).unwrap();
        def.validate(&shipped_matters()).unwrap()
    }

    fn done(steps: &[&str]) -> BTreeSet<String> {
        steps.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_shipped_bundles_are_valid_against_the_shipped_matters_and_named_after_their_files() {
        let matters = shipped_matters();
        for (def, (file, _)) in shipped_bundles().iter().zip(SHIPPED_BUNDLE_FILES) {
            assert_eq!(format!("{}.json", def.id), *file);
            let valid = def.validate(&matters).unwrap_or_else(|e| panic!("{file}: {e:#?}"));
            assert!(valid.steps().iter().all(|s| SHIPPED_DEPARTMENTS.contains(&s.department.as_str())));
            // The file is what `to_json` would write back, give or take layout.
            assert_eq!(BundleDef::from_json(&def.to_json()).unwrap(), *def);
        }
        // Every shipped matter is used by a shipped bundle.
        let used: BTreeSet<String> = shipped_bundles().iter().flat_map(|b| b.steps.iter().map(|s| s.matter.clone())).collect();
        assert_eq!(used.len(), matters.len());
    }

    #[test]
    fn opening_a_company_starts_with_the_licence_alone() {
        let open = shipped("open_company");
        assert_eq!(open.ready_steps(&done(&[])), vec!["licence"]);
        assert_eq!(open.matter_of("licence").unwrap().department, "market");
    }

    #[test]
    fn once_the_licence_is_done_exactly_the_four_parallel_steps_are_ready_in_four_departments() {
        let open = shipped("open_company");
        let ready = open.ready_steps(&done(&["licence"]));
        assert_eq!(ready, vec!["seal", "invoice", "bank_account", "social_insurance"]);
        let departments: BTreeSet<&str> = ready.iter().map(|s| open.matter_of(s).unwrap().department.as_str()).collect();
        assert_eq!(departments, BTreeSet::from(["police", "tax", "bank", "hrss"]));
        assert_eq!(
            open.ready_steps(&done(&["licence", "seal", "bank_account"])),
            vec!["invoice", "social_insurance"]
        );
        assert!(
            open.ready_steps(&done(&["licence", "seal", "invoice", "bank_account", "social_insurance"]))
                .is_empty()
        );
    }

    #[test]
    fn opening_a_company_is_promised_within_one_working_day() {
        let open = shipped("open_company");
        assert_eq!(open.critical_path_days(), 1);
        assert_eq!(open.critical_path(), vec!["licence", "seal"]);
    }

    #[test]
    fn the_construction_approval_runs_its_four_stages_in_order_with_their_parallel_reviews() {
        let approval = shipped("construction_approval");
        let order = approval.topological_order();
        assert_eq!(
            order,
            vec![
                "project_approval",
                "environmental_review",
                "land_use_planning",
                "energy_review",
                "engineering_planning",
                "drawing_review",
                "construction_permit",
                "fire_design_review",
                "civil_air_defence_review",
                "wage_deposit",
            ]
        );
        let position = |s: &str| order.iter().position(|o| *o == s).unwrap();
        for step in approval.steps() {
            for need in &step.needs {
                assert!(position(need) < position(&step.id), "{} before {}", need, step.id);
            }
        }
        // 立项 → 用地规划 → 工程规划 → 施工许可, each stage in its department.
        let main = ["project_approval", "land_use_planning", "engineering_planning", "construction_permit"];
        assert!(main.windows(2).all(|w| position(w[0]) < position(w[1])));
        let departments: Vec<&str> = main.iter().map(|s| approval.matter_of(s).unwrap().department.as_str()).collect();
        assert_eq!(departments, ["ndrc", "natural_resources", "natural_resources", "construction"]);
        // Beside project approval, the ecology review runs from the start.
        assert_eq!(approval.ready_steps(&done(&[])), vec!["project_approval", "environmental_review"]);
        assert_eq!(
            approval.ready_steps(&done(&["project_approval"])),
            vec!["environmental_review", "land_use_planning", "energy_review"]
        );
        let before_permit = done(&["project_approval", "land_use_planning", "engineering_planning", "drawing_review"]);
        assert_eq!(
            approval.ready_steps(&before_permit),
            vec![
                "environmental_review",
                "energy_review",
                "fire_design_review",
                "civil_air_defence_review",
                "wage_deposit"
            ]
        );
        // 3 + 5 + 7 + 5 working days.
        assert_eq!(approval.critical_path_days(), 20);
        assert_eq!(
            approval.critical_path(),
            vec!["project_approval", "land_use_planning", "drawing_review", "fire_design_review"]
        );
    }

    #[test]
    fn a_cycle_is_refused_and_named_by_its_steps() {
        let def = bundle(vec![
            step("a", "m1", "market", &[]),
            step("b", "m2", "market", &["a", "d"]),
            step("c", "m3", "market", &["b"]),
            step("d", "m4", "market", &["c"]),
        ]);
        let errors = def.validate(&catalog()).unwrap_err();
        assert_eq!(
            errors,
            vec![BundleError::Cycle {
                steps: vec!["b".into(), "d".into(), "c".into()]
            }]
        );
        assert_eq!(
            errors[0].to_string(),
            "the steps 'b', 'd', 'c' need each other in a cycle (b needs d needs c needs b), so none of them could ever start"
        );
        let selfish = bundle(vec![step("a", "m1", "market", &["a"])]);
        assert_eq!(selfish.validate(&catalog()).unwrap_err(), vec![BundleError::Cycle { steps: vec!["a".into()] }]);
    }

    #[test]
    fn a_dangling_need_is_refused() {
        let def = bundle(vec![
            step("licence", "m1", "market", &[]),
            step("seal", "m2", "market", &["licence", "license"]),
        ]);
        let errors = def.validate(&catalog()).unwrap_err();
        assert_eq!(
            errors,
            vec![BundleError::DanglingNeed {
                step: "seal".into(),
                need: "license".into()
            }]
        );
        assert_eq!(errors[0].to_string(), "step 'seal' needs 'license', which is not a step of this bundle");
    }

    #[test]
    fn an_unknown_matter_is_refused() {
        let def = bundle(vec![step("a", "m1", "market", &[]), step("b", "no.such.matter", "market", &["a"])]);
        let errors = def.validate(&catalog()).unwrap_err();
        assert_eq!(
            errors,
            vec![BundleError::UnknownMatter {
                step: "b".into(),
                matter: "no.such.matter".into()
            }]
        );
        assert_eq!(errors[0].to_string(), "step 'b' does matter 'no.such.matter', which is not in the catalog");
    }

    #[test]
    fn every_problem_of_a_definition_is_reported_at_once() {
        let mut def = bundle(vec![
            step("a", "m1", "police", &[]),
            step("a", "m2", "market", &[]),
            step("b", "m3", "market", &["a", "a"]),
            step("c d", "m3", "market", &[]),
        ]);
        def.form = vec![
            FormField {
                id: "name".into(),
                label: "名称".into(),
                kind: FieldKind::Text,
                required: true,
                fills: vec![
                    FieldTarget {
                        matter: "m1".into(),
                        field: "name".into(),
                    },
                    FieldTarget {
                        matter: "m9".into(),
                        field: "name".into(),
                    },
                ],
            },
            FormField {
                id: "name".into(),
                label: "又一个".into(),
                kind: FieldKind::Text,
                required: false,
                fills: vec![],
            },
        ];
        let errors = def.validate(&catalog()).unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            vec![
                "step 'a' is defined twice",
                "the step id 'c d' is not valid: use 1 to 64 ASCII letters, digits, '_', '-' or '.'",
                "step 'b' lists 'a' twice in its needs",
                "step 'a' is given to department 'police', but its matter 'm1' is handled by 'market'",
                "matter 'm3' is done by both step 'b' and step 'c d': a matter appears once per bundle",
                "form field 'name' fills matter 'm9', which is not done by any step of this bundle",
                "form field 'name' is defined twice",
                "form field 'name' fills no matter field",
            ]
        );
        assert_eq!(bundle(vec![]).validate(&catalog()).unwrap_err(), vec![BundleError::NoSteps]);
    }

    #[test]
    fn a_definition_with_an_unknown_key_or_bad_json_is_refused() {
        let misspelt = r#"{"id":"x","name":"x","steps":[{"id":"a","matter":"m1","department":"market","need":["b"]}]}"#;
        let error = BundleDef::from_json(misspelt).unwrap_err();
        assert!(error.to_string().contains("unknown field `need`"), "{error}");
        assert!(BundleDef::from_json("{").is_err());
        let minimal = r#"{"id":"x","name":"x","steps":[{"id":"a","matter":"m1","department":"market"}]}"#;
        assert!(BundleDef::from_json(minimal).unwrap().validate(&catalog()).is_ok());
    }

    #[test]
    fn the_combined_form_is_entered_once_and_fills_every_matter() {
        let open = shipped("open_company");
        let body = "11010519491231002";
        let id = format!("{body}{}", ResidentId::check_char(body).unwrap());
        let mut values: BTreeMap<String, String> = [
            ("company_name", "大东示例科技有限公司"),
            ("address", "大东区示例路1号"),
            ("registered_capital", "1000000"),
            ("business_scope", "软件开发"),
            ("legal_rep_name", "赵建国"),
            ("legal_rep_id", id.as_str()),
            ("contact_phone", "138-1234-5678"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let filled = open.fill_form(&values).unwrap();
        assert_eq!(filled.len(), 5, "every matter of the bundle gets fields");
        assert_eq!(filled["bank.account_opening"]["account_name"], "大东示例科技有限公司");
        assert_eq!(filled["tax.invoice_application"]["contact_phone"], "13812345678");
        assert_eq!(filled["market.company_registration"]["registered_capital"], "1000000.00");
        assert!(
            !filled["hrss.employer_insurance_registration"].contains_key("employees"),
            "an empty optional field fills nothing"
        );

        let wrong_digit = format!("{body}{}", if id.ends_with('0') { '1' } else { '0' });
        values.insert("legal_rep_id".into(), wrong_digit);
        values.remove("address");
        values.insert("colour".into(), "red".into());
        let errors = open.fill_form(&values).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["colour", "address", "legal_rep_id"]);
        assert!(
            errors[2].reason.starts_with("not a valid resident ID number: check digit"),
            "{}",
            errors[2].reason
        );
    }

    #[test]
    fn form_values_are_checked_by_their_kind() {
        assert_eq!(FieldKind::Date.normalize("2024-02-29").unwrap(), "2024-02-29");
        assert!(FieldKind::Date.normalize("2023-02-29").is_err());
        assert!(FieldKind::Date.normalize("2024-2-9").is_err());
        assert!(FieldKind::Money.normalize("-1").is_err());
        assert!(FieldKind::Phone.normalize("23812345678").is_err());
        assert!(FieldKind::CreditCode.normalize("91350100M000100Y43").is_ok());
        assert!(FieldKind::CreditCode.normalize("91350100M000100Y44").is_err());
        assert!(FieldKind::Text.normalize("two\nlines").is_err());
    }

    /// A random acyclic graph: step `i` may need only steps defined before it (`j < i`).
    fn acyclic() -> impl Strategy<Value = (usize, Vec<(usize, usize)>)> {
        (2usize..24).prop_flat_map(|n| {
            let edges = prop::collection::vec((1..n).prop_flat_map(|i| (Just(i), 0..i)), 1..(3 * n));
            (Just(n), edges)
        })
    }

    fn graph(n: usize, edges: &[(usize, usize)]) -> BundleDef {
        let mut steps: Vec<StepDef> = (0..n).map(|i| step(&format!("s{i}"), &format!("m{i}"), "market", &[])).collect();
        for &(i, j) in edges {
            let need = format!("s{j}");
            if !steps[i].needs.contains(&need) {
                steps[i].needs.push(need);
            }
        }
        // Define the steps in a scrambled order, so that the order of the file does not help.
        steps.reverse();
        bundle(steps)
    }

    fn big_catalog() -> Vec<Matter> {
        (0..24).map(|i| matter(&format!("m{i}"), "market", (i % 4) as u32)).collect()
    }

    proptest! {
        #[test]
        fn random_acyclic_graphs_validate_and_run_in_an_order_that_respects_needs((n, edges) in acyclic()) {
            let def = graph(n, &edges);
            let valid = def.validate(&big_catalog()).unwrap();
            let order = valid.topological_order();
            prop_assert_eq!(order.len(), n);
            let position = |s: &str| order.iter().position(|o| *o == s).unwrap();
            for step in valid.steps() {
                for need in &step.needs {
                    prop_assert!(position(need) < position(&step.id));
                }
            }
            // Running the bundle by ready steps finishes every step.
            let mut done = BTreeSet::new();
            while done.len() < n {
                let ready: Vec<String> = valid.ready_steps(&done).into_iter().map(str::to_string).collect();
                prop_assert!(!ready.is_empty());
                done.extend(ready);
            }
            let path = valid.critical_path();
            let days: u32 = path.iter().map(|s| valid.matter_of(s).unwrap().time_limit_days).sum();
            prop_assert_eq!(days, valid.critical_path_days());
        }

        #[test]
        fn adding_a_back_edge_to_an_acyclic_graph_is_always_caught((n, edges) in acyclic(), pick in any::<prop::sample::Index>()) {
            // Every pair (from, to) where `to` is reachable from `from` along needs.
            let mut reach = vec![vec![false; n]; n];
            for &(i, j) in &edges {
                reach[i][j] = true;
            }
            for k in 0..n {
                for i in 0..n {
                    for j in 0..n {
                        if reach[i][k] && reach[k][j] {
                            reach[i][j] = true;
                        }
                    }
                }
            }
            let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).filter(|&(i, j)| reach[i][j]).collect();
            let (from, to) = pairs[pick.index(pairs.len())];
            let mut def = graph(n, &edges);
            let back = def.steps.iter_mut().find(|s| s.id == format!("s{to}")).unwrap();
            back.needs.push(format!("s{from}"));
            let errors = def.validate(&big_catalog()).unwrap_err();
            prop_assert!(!errors.is_empty());
            for error in &errors {
                let BundleError::Cycle { steps } = error else {
                    return Err(TestCaseError::fail(format!("not a cycle: {error}")));
                };
                // Each named step needs the next, and the last the first.
                for (k, s) in steps.iter().enumerate() {
                    let next = &steps[(k + 1) % steps.len()];
                    let needs = &def.steps.iter().find(|d| &d.id == s).unwrap().needs;
                    prop_assert!(needs.contains(next), "{} does not need {}", s, next);
                }
            }
        }
    }
}
