package duckdb

import (
	"fmt"
	"slices"
)

// attrArrays splits attributes into the parallel key and value arrays the
// tables hold, keys sorted so that equal maps are stored identically.
func attrArrays(m map[string]string) (keys, values []string) {
	keys = make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	values = make([]string, len(keys))
	for i, k := range keys {
		values[i] = m[k]
	}
	return keys, values
}

// attrMap rebuilds attributes from the arrays as the driver scans them.
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
