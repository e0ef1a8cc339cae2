//! A workflow being edited, as a tree: each action keeps its own settings,
//! and its nested action lists (a condition's `then`/`else`, a parallel's
//! branches) are its lanes. Every edit names actions by id, because the
//! browser's cards and drop zones outlive the positions they were drawn at.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::workflows::Action;

/// One action and the actions nested in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The action without its nested lists (`then`, `else`, `branches`).
    pub action: Action,
    pub lanes: Vec<Vec<Node>>,
}

/// A lane of an action: its id and which of its lists.
pub type Lane = (String, usize);

/// Where an action goes: a position in the top list or in a lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub lane: Option<Lane>,
    pub index: usize,
}

/// A place named the way the page draws it: before an action, or at the end of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    Before(String),
    End(Option<Lane>),
}

/// The outline of the tree (ids, types, lanes): what the page redraws for;
/// edits of settings leave it alone, so inputs keep their focus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub id: String,
    pub action_type: String,
    pub lanes: Vec<Vec<Shape>>,
}

/// The names of an action type's lanes, or `None` for types without nested actions.
pub fn lane_names(action_type: &str, lanes: usize) -> Vec<String> {
    match action_type {
        "condition" => vec!["Then".into(), "Else".into()],
        "parallel" => (1..=lanes).map(|i| format!("Branch {i}")).collect(),
        _ => Vec::new(),
    }
}

fn parse_list(v: Option<&Value>) -> Option<Vec<Node>> {
    let list: Vec<Action> = serde_json::from_value(v?.clone()).ok()?;
    Some(from_actions(&list))
}

/// The tree of a saved list of actions. Nested lists that are not lists of
/// actions stay in the settings as they were, for the server to report.
pub fn from_actions(actions: &[Action]) -> Vec<Node> {
    actions
        .iter()
        .map(|a| {
            let mut action = a.clone();
            let mut lanes = Vec::new();
            match a.action_type.as_str() {
                "condition" => {
                    let then = parse_list(a.config.get("then"));
                    let other = parse_list(a.config.get("else"));
                    if (then.is_some() || a.config.get("then").is_none())
                        && (other.is_some() || a.config.get("else").is_none())
                    {
                        lanes = vec![then.unwrap_or_default(), other.unwrap_or_default()];
                        strip(&mut action.config, &["then", "else"]);
                    }
                }
                "parallel" => {
                    let branches: Option<Vec<Vec<Node>>> = a
                        .config
                        .get("branches")
                        .and_then(Value::as_array)
                        .map(|bs| bs.iter().map(|b| parse_list(Some(b))).collect::<Option<Vec<_>>>())
                        .unwrap_or(Some(vec![Vec::new(), Vec::new()]));
                    if let Some(bs) = branches {
                        lanes = bs;
                        strip(&mut action.config, &["branches"]);
                    }
                }
                _ => {}
            }
            Node { action, lanes }
        })
        .collect()
}

fn strip(config: &mut Value, keys: &[&str]) {
    if let Some(m) = config.as_object_mut() {
        for k in keys {
            m.remove(*k);
        }
    }
}

/// The list of actions the API takes.
pub fn to_actions(flow: &[Node]) -> Vec<Action> {
    flow.iter()
        .map(|n| {
            let mut a = n.action.clone();
            if !a.config.is_object() {
                a.config = Value::Object(Default::default());
            }
            let lists = |l: &[Node]| serde_json::to_value(to_actions(l)).unwrap_or(Value::Array(vec![]));
            match (a.action_type.as_str(), n.lanes.len()) {
                ("condition", 2) => {
                    a.config["then"] = lists(&n.lanes[0]);
                    a.config["else"] = lists(&n.lanes[1]);
                }
                ("parallel", _) if !n.lanes.is_empty() => {
                    a.config["branches"] = Value::Array(n.lanes.iter().map(|l| lists(l)).collect());
                }
                _ => {}
            }
            a
        })
        .collect()
}

/// A new action of a type, with the settings its form starts from.
pub fn new_node(id: String, action_type: &str) -> Node {
    let (config, lanes) = match action_type {
        "wait" => (serde_json::json!({"duration": 3_600_000}), vec![]),
        "send_email" => (serde_json::json!({"to": ""}), vec![]),
        "send_notification" => (serde_json::json!({"title": "", "message": ""}), vec![]),
        "create_record" => (serde_json::json!({"entity": "appointment", "fields": {}}), vec![]),
        "update_record" => (serde_json::json!({"entity": "patient", "id": "", "changes": {}}), vec![]),
        "webhook" => (serde_json::json!({"method": "POST", "url": ""}), vec![]),
        "condition" => (serde_json::json!({"logic": "AND", "conditions": []}), vec![vec![], vec![]]),
        "parallel" => (serde_json::json!({}), vec![vec![], vec![]]),
        "run_workflow" => (serde_json::json!({"templateId": "", "wait": false}), vec![]),
        _ => (serde_json::json!({}), vec![]),
    };
    let name = action_type.replace('_', " ");
    Node { action: Action { id, action_type: action_type.into(), name, config }, lanes }
}

/// The outline of a list.
pub fn shape(flow: &[Node]) -> Vec<Shape> {
    flow.iter()
        .map(|n| Shape {
            id: n.action.id.clone(),
            action_type: n.action.action_type.clone(),
            lanes: n.lanes.iter().map(|l| shape(l)).collect(),
        })
        .collect()
}

/// Every action, outer before inner, in the order they are drawn.
pub fn walk(flow: &[Node]) -> Vec<&Node> {
    let mut out = Vec::new();
    for n in flow {
        out.push(n);
        for l in &n.lanes {
            out.extend(walk(l));
        }
    }
    out
}

pub fn node<'a>(flow: &'a [Node], id: &str) -> Option<&'a Node> {
    walk(flow).into_iter().find(|n| n.action.id == id)
}

pub fn node_mut<'a>(flow: &'a mut [Node], id: &str) -> Option<&'a mut Node> {
    for n in flow.iter_mut() {
        if n.action.id == id {
            return Some(n);
        }
        for l in n.lanes.iter_mut() {
            if let Some(found) = node_mut(l, id) {
                return Some(found);
            }
        }
    }
    None
}

fn list_mut<'a>(flow: &'a mut Vec<Node>, lane: &Option<Lane>) -> Option<&'a mut Vec<Node>> {
    match lane {
        None => Some(flow),
        Some((id, i)) => node_mut(flow, id)?.lanes.get_mut(*i),
    }
}

/// Where an action is: its lane (`None` for the top list) and index there.
pub fn locate(flow: &[Node], id: &str) -> Option<Place> {
    fn go(list: &[Node], lane: Option<Lane>, id: &str) -> Option<Place> {
        for (i, n) in list.iter().enumerate() {
            if n.action.id == id {
                return Some(Place { lane, index: i });
            }
            for (li, l) in n.lanes.iter().enumerate() {
                if let Some(p) = go(l, Some((n.action.id.clone(), li)), id) {
                    return Some(p);
                }
            }
        }
        None
    }
    go(flow, None, id)
}

pub fn resolve(flow: &[Node], anchor: &Anchor) -> Option<Place> {
    match anchor {
        Anchor::Before(id) => locate(flow, id),
        Anchor::End(None) => Some(Place { lane: None, index: flow.len() }),
        Anchor::End(Some((id, i))) => {
            let len = node(flow, id)?.lanes.get(*i)?.len();
            Some(Place { lane: Some((id.clone(), *i)), index: len })
        }
    }
}

pub fn insert(flow: &mut Vec<Node>, place: &Place, n: Node) -> bool {
    match list_mut(flow, &place.lane) {
        Some(list) if place.index <= list.len() => {
            list.insert(place.index, n);
            true
        }
        _ => false,
    }
}

pub fn remove(flow: &mut Vec<Node>, id: &str) -> Option<Node> {
    let at = locate(flow, id)?;
    Some(list_mut(flow, &at.lane)?.remove(at.index))
}

/// Moves an action to a place (given as it was before the move). Refused
/// when the place is inside the action itself.
pub fn move_to(flow: &mut Vec<Node>, id: &str, place: &Place) -> bool {
    let Some(from) = locate(flow, id) else { return false };
    if let Some((lane_owner, _)) = &place.lane {
        let moved = node(flow, id).expect("located");
        if walk(std::slice::from_ref(moved)).iter().any(|n| &n.action.id == lane_owner) {
            return false;
        }
    }
    let mut to = place.clone();
    if from.lane == to.lane && from.index < to.index {
        to.index -= 1;
    }
    let Some(n) = remove(flow, id) else { return false };
    if insert(flow, &to, n.clone()) {
        true
    } else {
        insert(flow, &from, n);
        false
    }
}

/// One place up (`-1`) or down (`1`) in its own list.
pub fn shift(flow: &mut Vec<Node>, id: &str, by: isize) -> bool {
    let Some(at) = locate(flow, id) else { return false };
    let Some(list) = list_mut(flow, &at.lane) else { return false };
    let to = at.index as isize + by;
    if to < 0 || to as usize >= list.len() {
        return false;
    }
    list.swap(at.index, to as usize);
    true
}

/// Into the first lane of the action above it (the keyboard's way into a branch).
pub fn into_lane_above(flow: &mut Vec<Node>, id: &str) -> bool {
    let Some(at) = locate(flow, id) else { return false };
    if at.index == 0 {
        return false;
    }
    let above = {
        let list = list_mut(flow, &at.lane).expect("located");
        let a = &list[at.index - 1];
        if a.lanes.is_empty() {
            return false;
        }
        a.action.id.clone()
    };
    let place = resolve(flow, &Anchor::End(Some((above, 0)))).expect("lane exists");
    move_to(flow, id, &place)
}

/// Out of its lane, to just after the action that holds the lane.
pub fn out_of_lane(flow: &mut Vec<Node>, id: &str) -> bool {
    let Some(Place { lane: Some((owner, _)), .. }) = locate(flow, id) else { return false };
    let Some(mut place) = locate(flow, &owner) else { return false };
    place.index += 1;
    move_to(flow, id, &place)
}

/// An id no action in the tree has: `action-N`.
pub fn fresh_id(flow: &[Node]) -> String {
    let ids: Vec<&str> = walk(flow).iter().map(|n| n.action.id.as_str()).collect();
    let mut n = ids.len() + 1;
    while ids.contains(&format!("action-{n}").as_str()) {
        n += 1;
    }
    format!("action-{n}")
}

fn renumber(flow: &mut Vec<Node>, n: &mut Node) {
    n.action.id = fresh_id(flow);
    // Reserve the id while the copy's inner actions are numbered.
    flow.push(Node { action: n.action.clone(), lanes: vec![] });
    for l in n.lanes.iter_mut() {
        for inner in l.iter_mut() {
            renumber(flow, inner);
        }
    }
}

/// A copy of an action (inner actions too, each with a fresh id), placed
/// at `place`; answers the copy's id.
pub fn paste(flow: &mut Vec<Node>, mut copy: Node, place: &Place) -> Option<String> {
    let mut scratch = flow.clone();
    renumber(&mut scratch, &mut copy);
    let id = copy.action.id.clone();
    insert(flow, place, copy).then_some(id)
}

/// A copy right after the original.
pub fn duplicate(flow: &mut Vec<Node>, id: &str) -> Option<String> {
    let original = node(flow, id)?.clone();
    let mut place = locate(flow, id)?;
    place.index += 1;
    paste(flow, original, &place)
}

/// The ids of the actions drawn before `id` (whose outputs it may read).
pub fn ids_before(flow: &[Node], id: &str) -> Vec<String> {
    actions_before(flow, id).into_iter().map(|a| a.id.clone()).collect()
}

/// The actions that come before `id` in the order the flow is read.
pub fn actions_before<'a>(flow: &'a [Node], id: &str) -> Vec<&'a crate::workflows::Action> {
    walk(flow).into_iter().map(|n| &n.action).take_while(|a| a.id != id).collect()
}

/// Each action's path in the API's terms: `actions[1]`, `actions[1].config.then[0]`.
pub fn paths(flow: &[Node]) -> Vec<(String, String)> {
    fn go(list: &[Node], prefix: &str, out: &mut Vec<(String, String)>) {
        for (i, n) in list.iter().enumerate() {
            let here = format!("{prefix}[{i}]");
            out.push((n.action.id.clone(), here.clone()));
            for (li, l) in n.lanes.iter().enumerate() {
                let lane = match n.action.action_type.as_str() {
                    "condition" => format!("{here}.config.{}", if li == 0 { "then" } else { "else" }),
                    _ => format!("{here}.config.branches[{li}]"),
                };
                go(l, &lane, out);
            }
        }
    }
    let mut out = Vec::new();
    go(flow, "actions", &mut out);
    out
}

/// Which action a server error's field belongs to, and the rest of the
/// field within it: `actions[1].config.to` → (`action-2`, `config.to`).
pub fn owner_of(flow: &[Node], field: &str) -> Option<(String, String)> {
    paths(flow)
        .into_iter()
        .filter_map(|(id, p)| {
            let rest = field.strip_prefix(p.as_str())?;
            match rest.strip_prefix('.') {
                Some(r) => Some((p.len(), id, r.to_string())),
                None if rest.is_empty() => Some((p.len(), id, String::new())),
                None => None,
            }
        })
        .max_by_key(|(len, ..)| *len)
        .map(|(_, id, rest)| (id, rest))
}
