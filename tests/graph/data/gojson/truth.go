// Ground truth for cachetrace/graph/gojson.py: reads cases.in.json and prints, for each case,
// what Go's encoding/json writes. Run by scripts/record_key_fixtures.sh in golang:local.
package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"runtime"
)

type input struct {
	Strings []string  `json:"strings"` // base64 of raw bytes, encoded as a Go string
	Floats  []float64 `json:"floats"`
	Ints    []int64   `json:"ints"`
}

type output struct {
	Go      string `json:"go"`
	Strings []pair `json:"strings"`
	Floats  []pair `json:"floats"`
	Ints    []pair `json:"ints"`
	Struct  string `json:"struct"`
	Map     string `json:"map"`
}

type pair struct {
	In  any    `json:"in"`
	Out string `json:"out"`
}

type sample struct {
	Name    string            `json:"name,omitempty"`
	Zero    int64             `json:"zero,omitempty"`
	Neg     int64             `json:"neg,omitempty"`
	Flag    bool              `json:"flag,omitempty"`
	List    []string          `json:"list,omitempty"`
	Empty   *struct{}         `json:"empty,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
	NoTag   string
	NilList []string
}

func main() {
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	var in input
	if err := json.Unmarshal(raw, &in); err != nil {
		panic(err)
	}
	out := output{Go: runtime.Version()}
	for _, s := range in.Strings {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			panic(err)
		}
		enc, _ := json.Marshal(string(b))
		out.Strings = append(out.Strings, pair{In: s, Out: string(enc)})
	}
	for _, f := range in.Floats {
		enc, _ := json.Marshal(f)
		out.Floats = append(out.Floats, pair{In: f, Out: string(enc)})
	}
	for _, i := range in.Ints {
		enc, _ := json.Marshal(i)
		out.Ints = append(out.Ints, pair{In: i, Out: string(enc)})
	}
	st, _ := json.Marshal(sample{Name: "a<b", Neg: -1, List: []string{"x"}, Empty: &struct{}{},
		Labels: map[string]string{"z": "1", "a": "2", "B": "3", "é": "4"}})
	out.Struct = string(st)
	m, _ := json.Marshal(map[string]int{"b": 1, "a": 2, "A": 3, "ä": 4, "aa": 5})
	out.Map = string(m)
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
