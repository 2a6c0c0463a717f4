package sdk

// Version is the SDK's version (semantic versioning), the top entry of
// CHANGELOG.md beside this file. The contract's own version is abi.Version,
// which names every import module: a module built against another contract
// version does not load.
const Version = "0.5.0"
