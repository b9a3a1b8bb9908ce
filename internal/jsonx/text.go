package jsonx

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// textProblem finds the first string of a JSON body, member name or value,
// that is not valid UTF-8 or escapes half a surrogate pair, and names its
// field. encoding/json would quietly store either as U+FFFD; a client
// should hear that its text was not what it meant. A body that is not
// JSON is left to Decode to word.
func textProblem(body []byte) *Problem {
	// level is an object or array being read: its path, and in an
	// object the member being read, named once its name is.
	type level struct {
		path  string
		array bool
		index int
		key   string
		named bool
	}
	var stack []level
	// here is the path of the value about to be read.
	here := func() string {
		if len(stack) == 0 {
			return ""
		}
		l := stack[len(stack)-1]
		if l.array {
			return l.path + "[" + strconv.Itoa(l.index) + "]"
		}
		if l.path == "" {
			return l.key
		}
		return l.path + "." + l.key
	}
	// done moves past a value that ended.
	done := func() {
		if len(stack) == 0 {
			return
		}
		if l := &stack[len(stack)-1]; l.array {
			l.index++
		} else {
			l.named = false
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var prev int64
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		// The token's text, after the commas, colons and spaces before it.
		raw := body[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch tok := tok.(type) {
		case json.Delim:
			if tok == '{' || tok == '[' {
				stack = append(stack, level{path: here(), array: tok == '['})
				continue
			}
			stack = stack[:len(stack)-1]
			done()
		case string:
			if l := len(stack) - 1; l >= 0 && !stack[l].array && !stack[l].named {
				stack[l].key, stack[l].named = tok, true
				if badText(raw) {
					// Named as decoded, U+FFFD and all: no field has
					// such a name, so this is the only way to point at it.
					return &Problem{Field: here(), Reason: "is a member name that is not valid UTF-8"}
				}
				continue
			}
			if badText(raw) {
				return &Problem{Field: orBody(here()), Reason: "must be valid UTF-8"}
			}
			done()
		default:
			done()
		}
	}
}

func orBody(path string) string {
	if path == "" {
		return "body"
	}
	return path
}

// badText reports whether raw, holding one JSON string, is not valid
// UTF-8 or escapes a surrogate that is not half of a pair.
func badText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return true
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++ // the escaped character; the loop steps past it
		if i == len(raw) || raw[i] != 'u' {
			continue
		}
		r := hexRune(raw[i+1:])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xDC00 || !bytes.HasPrefix(raw[i+1:], []byte(`\u`)) {
			return true
		}
		if low := hexRune(raw[i+3:]); low < 0xDC00 || low > 0xDFFF {
			return true
		}
		i += 6
	}
	return false
}

// hexRune reads the four hex digits of a \u escape the JSON scanner
// accepted; -1 if there are none.
func hexRune(b []byte) rune {
	if len(b) < 4 {
		return -1
	}
	n, err := strconv.ParseUint(string(b[:4]), 16, 16)
	if err != nil {
		return -1
	}
	return rune(n)
}
