package duckdb

import (
	"encoding/json"
	"fmt"
	"slices"
)

// attrArrays splits attributes into the parallel key and value arrays
// progress_events holds, keys sorted so that equal maps are stored
// identically.
func attrArrays(m map[string]string) (keys, values []string) {
	keys = sortedKeys(m)
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = m[k]
	}
	return keys, values
}

// attrLists is attrArrays as the appender takes a list: []any, which it
// reads as is, where it copies any other slice element by element through
// reflection.
func attrLists(m map[string]string) (keys, values []any) {
	sorted := sortedKeys(m)
	keys, values = make([]any, len(sorted)), make([]any, len(sorted))
	for i, k := range sorted {
		keys[i], values[i] = k, m[k]
	}
	return keys, values
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// attrMap rebuilds an event's attributes from the arrays as the driver
// scans them.
// No attributes read back as a nil map.
func attrMap(keys, values []any) (map[string]string, error) {
	if len(keys) != len(values) {
		return nil, fmt.Errorf("attributes: %d keys but %d values", len(keys), len(values))
	}
	if len(keys) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		ks, ok1 := k.(string)
		vs, ok2 := values[i].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("attributes: entry %d is %T=%T, not strings", i, k, values[i])
		}
		m[ks] = vs
	}
	return m, nil
}

// attrJSON encodes attributes as the JSON object the tasks table holds.
// encoding/json sorts map keys, so equal maps encode identically.
func attrJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("BUG: a map of strings did not encode: " + err.Error())
	}
	return string(b)
}

// parseAttrJSON decodes what attrJSON encoded; no attributes read back as
// a nil map.
func parseAttrJSON(s string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("attributes: %w", err)
	}
	if len(m) == 0 {
		return nil, nil
	}
	return m, nil
}
