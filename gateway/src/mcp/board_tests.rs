use super::*;

#[test]
fn the_view_is_small_and_loads_nothing_from_elsewhere() {
    assert!(
        HTML.len() < 150 * 1024,
        "board.html is {} bytes",
        HTML.len()
    );
    // Everything is inline: no script, style sheet or image is fetched from anywhere.
    for needle in ["<script src", "<link", "@import", "url(http", "src=\"http"] {
        assert!(!HTML.contains(needle), "board.html contains {needle:?}");
    }
}

#[test]
fn tools_link_the_board_in_both_forms() {
    let meta = tool_meta();
    assert_eq!(meta.0["ui"]["resourceUri"], URI);
    assert_eq!(meta.0["openai/outputTemplate"], URI);
}

#[test]
fn the_resource_declares_no_external_origin() {
    let read = serde_json::to_value(read()).expect("serializes");
    let content = &read["contents"][0];
    assert_eq!(content["mimeType"], MIME);
    assert_eq!(content["uri"], URI);
    assert_eq!(content["_meta"]["ui"]["csp"]["connectDomains"], json!([]));
    assert_eq!(content["_meta"]["ui"]["csp"]["resourceDomains"], json!([]));
}
