package widget

import _ "embed"

// Script is widget.js.
//
//go:embed widget.js
var Script []byte

// MaxGzipBytes is the widget's size budget, gzipped.
const MaxGzipBytes = 12 << 10
