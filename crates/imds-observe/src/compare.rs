//! Declared options against observed ones: the one comparison `imdspec run`, `imdspec probe`
//! and `imdspec fleet report` make, so the three cannot disagree about what "differs" means.

use imds_model::PartialOptions;
use serde::Serialize;

/// One option as declared and as observed (`None`: not declared, or not observable, like the
/// hop limit over one hop).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OptionPair {
    /// describe-instances' name of the option.
    pub field: &'static str,
    /// What the declaration (the control plane) says.
    pub declared: Option<String>,
    /// What the endpoint's answers show.
    pub observed: Option<String>,
}

/// How one declared option fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing declared: nothing to check.
    NotDeclared,
    /// Declared, but the answers did not show it.
    Unchecked,
    /// Declared and observed alike.
    Holds,
    /// Declared one way, observed another.
    Differs,
}

impl OptionPair {
    /// The verdict on this option.
    pub fn verdict(&self) -> Verdict {
        match (&self.declared, &self.observed) {
            (None, _) => Verdict::NotDeclared,
            (Some(_), None) => Verdict::Unchecked,
            (Some(d), Some(o)) if d == o => Verdict::Holds,
            (Some(_), Some(_)) => Verdict::Differs,
        }
    }

    /// The difference, when this option differs.
    pub fn difference(&self) -> Option<Difference> {
        match (&self.declared, &self.observed) {
            (Some(d), Some(o)) if d != o => Some(Difference {
                field: self.field,
                declared: d.clone(),
                observed: o.clone(),
            }),
            _ => None,
        }
    }
}

/// A declared option the endpoint does not honour.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// describe-instances' name of the option.
    pub field: &'static str,
    /// What the declaration says.
    pub declared: String,
    /// What the endpoint does.
    pub observed: String,
}

/// Every option's pair, in [`PartialOptions::FIELDS`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionsComparison {
    /// One pair per option.
    pub pairs: [OptionPair; 5],
}

impl OptionsComparison {
    /// The options that differ, in field order.
    pub fn differences(&self) -> Vec<Difference> {
        self.pairs
            .iter()
            .filter_map(OptionPair::difference)
            .collect()
    }

    /// The declared options the answers did not show.
    pub fn unchecked(&self) -> impl Iterator<Item = &OptionPair> {
        self.pairs
            .iter()
            .filter(|p| p.verdict() == Verdict::Unchecked)
    }

    /// True when no option differs.
    pub fn matches(&self) -> bool {
        self.pairs.iter().all(|p| p.verdict() != Verdict::Differs)
    }
}

/// `declared.compare(&observed)` on the model's partial options.
pub trait CompareOptions {
    /// Each option as declared (`self`) and as observed.
    fn compare(&self, observed: &PartialOptions) -> OptionsComparison;
}

impl CompareOptions for PartialOptions {
    fn compare(&self, observed: &PartialOptions) -> OptionsComparison {
        let declared = self.fields();
        let observed = observed.fields();
        let pairs = std::array::from_fn(|i| OptionPair {
            field: declared[i].0,
            declared: declared[i].1.clone(),
            observed: observed[i].1.clone(),
        });
        OptionsComparison { pairs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imds_model::{HttpTokens, Toggle};

    #[test]
    fn every_verdict() {
        let declared = PartialOptions {
            http_tokens: Some(HttpTokens::Required),
            http_endpoint: Some(Toggle::Enabled),
            instance_metadata_tags: Some(Toggle::Enabled),
            ..PartialOptions::default()
        };
        let observed = PartialOptions {
            http_tokens: Some(HttpTokens::Optional),
            http_endpoint: Some(Toggle::Enabled),
            http_protocol_ipv6: Some(Toggle::Disabled),
            ..PartialOptions::default()
        };
        let c = declared.compare(&observed);
        let verdicts: Vec<Verdict> = c.pairs.iter().map(OptionPair::verdict).collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Differs,
                Verdict::Holds,
                Verdict::Unchecked,
                Verdict::NotDeclared,
                Verdict::NotDeclared
            ]
        );
        assert_eq!(
            c.differences(),
            [Difference {
                field: "HttpTokens",
                declared: "required".into(),
                observed: "optional".into()
            }]
        );
        assert_eq!(
            c.unchecked().map(|p| p.field).collect::<Vec<_>>(),
            ["InstanceMetadataTags"]
        );
        assert!(!c.matches());
        assert!(observed.compare(&observed).matches());
    }
}
