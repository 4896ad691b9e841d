//! Possible duplicates: when an enterprise raises an appeal, its open appeals that read much
//! like the new one are offered, so that the same problem is not worked twice.
//!
//! Likeness is the Jaccard overlap of character bigrams of title and description, which works
//! for Chinese text without a word segmenter (two characters carry most of a word's meaning)
//! and for Latin text alike; the same category adds a little.

use std::collections::BTreeSet;

use crate::routing::Category;

/// An open appeal of the same enterprise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub id: i64,
    pub category: Category,
    pub title: String,
    pub body: String,
}

/// How alike two appeals must be, in percent, to be offered as possible duplicates.
pub const DUPLICATE_SCORE_MIN: u32 = 40;
/// The most suggestions shown.
pub const SUGGESTIONS_MAX: usize = 5;

fn bigrams(text: &str) -> BTreeSet<(char, char)> {
    let chars: Vec<char> = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    if chars.len() == 1 {
        return [(chars[0], ' ')].into();
    }
    chars.windows(2).map(|w| (w[0], w[1])).collect()
}

/// Likeness of two texts in percent: shared bigrams over all bigrams.
pub fn likeness(a: &str, b: &str) -> u32 {
    let (a, b) = (bigrams(a), bigrams(b));
    let union = a.union(&b).count();
    if union == 0 {
        return 0;
    }
    (a.intersection(&b).count() * 100 / union) as u32
}

/// The candidates that look like a new appeal, most alike first, with their likeness in percent.
pub fn possible_duplicates(category: Category, title: &str, body: &str, open: &[Candidate]) -> Vec<(i64, u32)> {
    let text = format!("{title} {body}");
    let title_only = title;
    let mut found: Vec<(i64, u32)> = open
        .iter()
        .map(|c| {
            let whole = likeness(&text, &format!("{} {}", c.title, c.body));
            let titles = likeness(title_only, &c.title);
            let bonus = if c.category == category { 10 } else { 0 };
            (c.id, (whole.max(titles) + bonus).min(100))
        })
        .filter(|&(_, score)| score >= DUPLICATE_SCORE_MIN)
        .collect();
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    found.truncate(SUGGESTIONS_MAX);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: i64, category: Category, title: &str) -> Candidate {
        Candidate {
            id,
            category,
            title: title.into(),
            body: String::new(),
        }
    }

    #[test]
    fn a_reworded_appeal_about_the_same_problem_is_offered_and_an_unrelated_one_is_not() {
        let open = vec![
            cand(1, Category::Labour, "一线技术工人招工难，急需焊工30名"),
            cand(2, Category::Land, "新厂房用地指标审批进度"),
        ];
        let found = possible_duplicates(Category::Labour, "急需焊工30名，招工难", "", &open);
        assert_eq!(found.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1]);
        assert!(possible_duplicates(Category::Funding, "流动资金贷款贴息", "", &open).is_empty());
    }

    #[test]
    fn likeness_is_symmetric_and_full_for_the_same_text() {
        assert_eq!(likeness("供应链芯片短缺", "供应链芯片短缺"), 100);
        assert_eq!(likeness("abc def", "def abc"), likeness("def abc", "abc def"));
        assert_eq!(likeness("", ""), 0);
    }
}
