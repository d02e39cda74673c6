//! MedMNIST's evaluation metrics, computed as its Python evaluator (`medmnist.evaluator`) does,
//! so that numbers are comparable with published MedMNIST results.
//!
//! Multi-class (and ordinal, and binary) sets: ACC is the arg-max accuracy and AUC the mean of
//! the one-vs-rest ROC AUCs of the softmax scores. For two classes that mean equals the AUC of
//! the positive column, which is what the evaluator reports for binary sets, since the two
//! columns sum to one. Multi-label sets: ACC is the mean over labels of the accuracy at
//! probability 0.5, AUC the mean over labels of the ROC AUC of the sigmoid scores.

use crate::config::Task;

/// Area under the ROC curve of `scores` for the positives in `positive`, ties counted half, as
/// scikit-learn's `roc_auc_score` computes it; `None` when either class is absent (undefined).
pub fn roc_auc(positive: &[bool], scores: &[f32]) -> Option<f64> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let (mut rank_sum, mut pos) = (0.0f64, 0u64);
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1..=j+1 share their mean.
        let rank = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum += rank;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = scores.len() as u64 - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let (p, n) = (pos as f64, neg as f64);
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// MedMNIST's AUC of `scores` `(N, classes)` (softmax or sigmoid outputs) against `labels`
/// (class indices, or bit masks for a multi-label task). Classes whose AUC is undefined (absent,
/// or present in every image) are left out of the mean; `None` if no class has one.
pub fn auc(task: Task, scores: &[f32], labels: &[u32], classes: usize) -> Option<f64> {
    let aucs: Vec<f64> = (0..classes)
        .filter_map(|c| {
            let column: Vec<f32> = scores.chunks_exact(classes).map(|row| row[c]).collect();
            let positive: Vec<bool> = labels
                .iter()
                .map(|&l| match task {
                    Task::MultiClass => l as usize == c,
                    Task::MultiLabel => (l >> c) & 1 == 1,
                })
                .collect();
            roc_auc(&positive, &column)
        })
        .collect();
    (!aucs.is_empty()).then(|| aucs.iter().sum::<f64>() / aucs.len() as f64)
}

/// MedMNIST's ACC of a multi-label model: the mean over labels of the share of images whose
/// score is on the right side of 0.5.
pub fn multi_label_accuracy(scores: &[f32], labels: &[u32], classes: usize) -> f64 {
    let mut right = 0u64;
    for (row, &mask) in scores.chunks_exact(classes).zip(labels) {
        for (c, &s) in row.iter().enumerate() {
            right += u64::from((s > 0.5) == ((mask >> c) & 1 == 1));
        }
    }
    right as f64 / (labels.len() * classes).max(1) as f64
}
