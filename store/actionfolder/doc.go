// Package actionfolder reads action folders: the one place that knows how a
// folder of exemplar pictures and their captions is laid out. The library's
// import, `kata train --images` and the window (through app) all read folders
// here, so they agree on which files are pictures, in which order they come
// and which caption each gets.
//
// A folder holds pictures (Exts), optionally NN.txt beside NN.png, and
// optionally text.json, as ActionBench lays them out:
//
//	handstand/01.jpg  handstand/01.txt  ...  handstand/10.jpg  handstand/text.json
//
// text.json is either an object from picture name ("01.jpg"), stem ("01") or
// number ("1") to a caption template or a LIST of templates (the first one is
// used), or a list of templates given to the pictures in natural order (2.jpg
// before 10.jpg). Templates mark the action with "{}".
//
// Precedence, per picture: its text.json template, else its NN.txt, else none
// (the caller's default caption). text.json wins because it holds templates
// with the action's slot, while ActionBench's NN.txt holds the full caption
// with the action in words.
//
// Whitespace runs in captions are collapsed to one space. Nothing here
// decodes pictures (store.DecodeImage does) or fills templates.
package actionfolder
