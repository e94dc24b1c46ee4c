//! What a change opens, which no single-tree check can say: the RBAC grants and the network
//! paths the branch has and its merge base had not (`tollgate check --new-since`). Each rule
//! compares the two models and reports on the branch's object that causes the difference.

pub mod rbac_grant;
pub mod reach_opened;
