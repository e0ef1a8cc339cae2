use serde_json::json;

use super::tree::*;
use super::*;
use crate::workflows::Action;

fn actions(v: Value) -> Vec<Action> {
    serde_json::from_value(v).unwrap()
}

fn ids(flow: &[Node]) -> Vec<String> {
    walk(flow).iter().map(|n| n.action.id.clone()).collect()
}

fn sample() -> Vec<Node> {
    from_actions(&actions(json!([
        {"id": "a", "type": "wait", "config": {"duration": 1000}},
        {"id": "c", "type": "condition", "config": {"logic": "AND", "conditions": [],
            "then": [{"id": "t1", "type": "send_notification", "config": {"title": "x", "message": "y"}}],
            "else": []}},
        {"id": "p", "type": "parallel", "config": {"branches": [
            [{"id": "b1", "type": "wait", "config": {"duration": 1}}],
            [{"id": "b2", "type": "wait", "config": {"duration": 2}}]]}},
        {"id": "z", "type": "send_email", "config": {"to": "{{patient.owner.email}}", "template": "patient_followup"}}
    ])))
}

#[test]
fn actions_round_trip_through_the_tree() {
    let raw = actions(json!([
        {"id": "a", "type": "wait", "name": "Wait", "config": {"duration": 1000}},
        {"id": "c", "type": "condition", "name": "", "config": {"logic": "OR", "conditions": [{"field": "x", "operator": "is_empty"}],
            "then": [{"id": "t1", "type": "wait", "name": "", "config": {"duration": 1}}],
            "else": [{"id": "e1", "type": "wait", "name": "", "config": {"duration": 2}}]}},
        {"id": "p", "type": "parallel", "name": "", "config": {"branches": [
            [{"id": "b1", "type": "wait", "name": "", "config": {"duration": 1}}],
            [{"id": "b2", "type": "wait", "name": "", "config": {"duration": 2}}]]}}
    ]));
    let flow = from_actions(&raw);
    assert_eq!(flow[1].lanes.len(), 2);
    assert!(flow[1].action.config.get("then").is_none(), "lanes leave the settings");
    assert_eq!(flow[2].lanes.len(), 2);
    assert_eq!(to_actions(&flow), raw);
}

#[test]
fn nested_lists_that_are_not_actions_stay_as_they_were() {
    let raw = actions(json!([{"id": "c", "type": "condition", "name": "", "config": {"then": "oops"}}]));
    let flow = from_actions(&raw);
    assert!(flow[0].lanes.is_empty());
    assert_eq!(to_actions(&flow), raw, "the server reports what is wrong, not the builder hiding it");
}

#[test]
fn moving_down_the_same_list_lands_where_dropped() {
    let mut flow = sample();
    // Dropped on the zone before `z`: `a` ends right above `z`.
    let place = resolve(&flow, &Anchor::Before("z".into())).unwrap();
    assert!(move_to(&mut flow, "a", &place));
    let top: Vec<_> = flow.iter().map(|n| n.action.id.as_str()).collect();
    assert_eq!(top, ["c", "p", "a", "z"]);
}

#[test]
fn moving_into_and_out_of_lanes() {
    let mut flow = sample();
    let end_of_else = resolve(&flow, &Anchor::End(Some(("c".into(), 1)))).unwrap();
    assert!(move_to(&mut flow, "z", &end_of_else));
    assert_eq!(node(&flow, "c").unwrap().lanes[1][0].action.id, "z");
    assert!(out_of_lane(&mut flow, "z"));
    let top: Vec<_> = flow.iter().map(|n| n.action.id.as_str()).collect();
    assert_eq!(top, ["a", "c", "z", "p"]);
    // The keyboard's way in: into the first lane of the action above.
    assert!(into_lane_above(&mut flow, "z"));
    assert_eq!(ids(&node(&flow, "c").unwrap().lanes[0]), ["t1", "z"]);
    assert!(!into_lane_above(&mut flow, "a"), "nothing above the first action");
}

#[test]
fn an_action_cannot_move_into_itself() {
    let mut flow = sample();
    let before = flow.clone();
    let inside = resolve(&flow, &Anchor::End(Some(("c".into(), 0)))).unwrap();
    assert!(!move_to(&mut flow, "c", &inside));
    assert_eq!(flow, before);
}

#[test]
fn shift_stays_inside_its_list() {
    let mut flow = sample();
    assert!(!shift(&mut flow, "a", -1));
    assert!(shift(&mut flow, "a", 1));
    assert_eq!(flow[1].action.id, "a");
    assert!(!shift(&mut flow, "t1", 1), "t1 is alone in its lane");
}

#[test]
fn duplicates_get_fresh_ids_all_the_way_down() {
    let mut flow = sample();
    let copy = duplicate(&mut flow, "c").unwrap();
    let all = ids(&flow);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(all.len(), unique.len(), "ids stay unique: {all:?}");
    assert_eq!(flow[2].action.id, copy);
    assert_eq!(flow[2].lanes[0].len(), 1);
    assert_ne!(flow[2].lanes[0][0].action.id, "t1");
}

#[test]
fn fresh_ids_skip_taken_ones() {
    let flow = from_actions(&actions(json!([{"id": "action-2", "type": "wait", "config": {"duration": 1}}])));
    assert_eq!(fresh_id(&flow), "action-3");
    assert_eq!(fresh_id(&[]), "action-1");
}

#[test]
fn server_errors_find_their_card() {
    let flow = sample();
    assert_eq!(owner_of(&flow, "actions[3].config.to"), Some(("z".into(), "config.to".into())));
    assert_eq!(owner_of(&flow, "actions[1].config.then[0].config.title"), Some(("t1".into(), "config.title".into())));
    assert_eq!(owner_of(&flow, "actions[2].config.branches[1][0]"), Some(("b2".into(), String::new())));
    assert_eq!(
        owner_of(&flow, "actions[1].config.conditions[0].field"),
        Some(("c".into(), "config.conditions[0].field".into()))
    );
    assert_eq!(owner_of(&flow, "name"), None);
    assert_eq!(owner_of(&flow, "actions[10]"), None, "no card at a prefix that only looks alike");
}

#[test]
fn earlier_steps_are_offered_as_variables() {
    let flow = sample();
    assert_eq!(ids_before(&flow, "b2"), ["a", "c", "t1", "p", "b1"]);
    let before = [("action-1".to_string(), vec!["subject".to_string()]), ("x".to_string(), vec![])];
    let offered = variables(None, &[("patient".into(), vec!["name".into()])], &before);
    assert_eq!(
        offered,
        ["patient.name", "steps['action-1'].subject", "steps['action-1']", "steps.x", "execution.id", "now"]
    );
    let from_event =
        variables(Some(&json!({"appointment": {"id": "a", "patient": {"owner": {"email": "e"}}}})), &[], &[]);
    assert!(from_event.contains(&"appointment.patient.owner.email".to_string()));
}

#[test]
fn earlier_steps_offer_the_fields_of_their_output() {
    let flow = sample();
    let entities = [("appointment".to_string(), vec!["startsAt".to_string(), "id".to_string()])];
    let before: Vec<(String, Vec<String>)> =
        actions_before(&flow, "z").into_iter().map(|a| (a.id.clone(), output_fields(a, &entities))).collect();
    assert_eq!(before[0], ("a".to_string(), vec!["waitedUntil".to_string()]));
    assert_eq!(before[1].1, ["result", "branch"]);
    let offered = variables(None, &[], &before);
    assert!(offered.contains(&"steps.t1.notificationId".to_string()), "{offered:?}");
    let create =
        actions(json!([{"id": "r", "type": "create_record", "config": {"entity": "appointment", "fields": {}}}]));
    assert_eq!(output_fields(&create[0], &entities), ["id", "version", "createdAt", "updatedAt", "startsAt"]);
    // A field of an earlier step's output is known; one it does not have is not.
    let offered = variables(None, &[], &[("send".to_string(), vec!["subject".to_string()])]);
    assert!(unknown_variables("{{ steps.send.subject }}", &offered).is_empty());
}

#[test]
fn validation_messages_split_into_fields() {
    let errs = field_errors("actions[1].config.to: is required; name: must not be empty");
    assert_eq!(
        errs,
        [("actions[1].config.to".into(), "is required".into()), ("name".into(), "must not be empty".into())]
    );
    assert!(field_errors("the template changed meanwhile; read it again").is_empty());
}

#[test]
fn durations_read_in_the_largest_whole_unit() {
    assert_eq!(duration_parts(86_400_000), (1, "days"));
    assert_eq!(duration_parts(7_200_000), (2, "hours"));
    assert_eq!(duration_parts(90_000), (90, "seconds"));
    assert_eq!(duration_parts(1500), (1500, "milliseconds"));
    assert_eq!(unit_ms("hours") * 24, 86_400_000);
}

#[test]
fn typed_values_keep_numbers_and_booleans() {
    assert_eq!(typed_value("true"), json!(true));
    assert_eq!(typed_value("12.5"), json!(12.5));
    assert_eq!(typed_value("Rex"), json!("Rex"));
    assert_eq!(value_text(Some(&json!(3))), "3");
    assert_eq!(value_text(Some(&json!("3"))), "3");
}

#[test]
fn the_seed_example_is_what_the_draft_saves() {
    let mut d = Draft { name: "Patient Follow-up".into(), category: "patient_care".into(), ..Draft::default() };
    d.trigger_config = json!({"cron": "left over from another trigger type"});
    let id = fresh_id(&d.flow);
    insert(&mut d.flow, &Place { lane: None, index: 0 }, new_node(id, "wait"));
    let id = fresh_id(&d.flow);
    let mut email = new_node(id, "send_email");
    email.action.config = json!({"to": "{{patient.owner.email}}", "template": "patient_followup"});
    insert(&mut d.flow, &Place { lane: None, index: 1 }, email);
    node_mut(&mut d.flow, "action-1").unwrap().action.config["duration"] = json!(86_400_000);
    let input = d.to_input();
    assert_eq!(input.trigger_type.as_deref(), Some("manual"));
    assert_eq!(input.trigger_config, Some(json!({})));
    assert_eq!(
        input.actions.unwrap(),
        json!([
            {"id": "action-1", "type": "wait", "name": "wait", "config": {"duration": 86_400_000}},
            {"id": "action-2", "type": "send_email", "name": "send email", "config": {"to": "{{patient.owner.email}}", "template": "patient_followup"}}
        ])
    );
}

#[test]
fn unknown_variables_are_found_before_saving() {
    let offered: Vec<String> =
        ["patient.owner.email", "patient.name", "steps['action-1']", "now"].map(String::from).into();
    assert!(unknown_variables("Hi {{ patient.name | upper }}, {{patient.owner.email}}", &offered).is_empty());
    assert!(unknown_variables("{{ patient.owner }} {{ steps['action-1'].status }} {{ now }}", &offered).is_empty());
    assert_eq!(unknown_variables("{{ patient.ownr.email }} {{ pet }}", &offered), ["patient.ownr.email", "pet"]);
    assert!(unknown_variables("{{ 'text' }} and {{ broken", &offered).is_empty());
}

#[test]
fn versions_compare_line_by_line() {
    let rows = side_by_side("a\nb\nc", "a\nx\nc\nd");
    assert_eq!(
        rows,
        [
            (Some("a".into()), Some("a".into())),
            (None, Some("x".into())),
            (Some("b".into()), None),
            (Some("c".into()), Some("c".into())),
            (None, Some("d".into())),
        ]
    );
    assert!(side_by_side("", "").is_empty());
}

#[test]
fn the_json_view_reads_back_what_it_shows() {
    let mut d = Draft { name: "n".into(), ..Draft::default() };
    d.flow = sample();
    d.trigger_type = TriggerType::Event;
    d.trigger_config = json!({"event": "appointment.completed"});
    let back = Draft::from_input(&d.to_input()).unwrap();
    assert_eq!(back, d);
    let bad = TemplateInput { trigger_type: Some("sometimes".into()), ..Default::default() };
    assert!(Draft::from_input(&bad).unwrap_err().starts_with("triggerType"));
}
