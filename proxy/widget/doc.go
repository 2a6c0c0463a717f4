// Package widget is the website chat widget's script, which the edge serves
// at /w/widget.js: one script tag on a page of an allowed origin,
//
//	<script src="https://bridge.example.com/w/widget.js" async
//	        data-endpoint="https://bridge.example.com/x/{web-widget route}?project=SUP"></script>
//
// It makes no third-party requests (only the edge's endpoint and its /rt/
// stream), sets no cookie (its session lives in the page's localStorage),
// inserts text as text only, and is keyboard and screen-reader usable: a
// button that opens a labelled dialog, the conversation in an ARIA live
// log, Escape to close. Its own words (button, labels, notices) are in the
// browser's language where the bridge speaks it (en, de, fr, es, pt, uk),
// else English, from one table in the script. Its size budget is 12 KiB
// gzipped (MaxGzipBytes, held by the package's test); it is about 6 KiB.
package widget
