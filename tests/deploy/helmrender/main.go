// helmrender renders a Helm chart the way `helm template` does, for the tests of `citadel
// deploy` (Debian 12 has no helm binary). Same engine: Go text/template with the Sprig
// function library plus Helm's own functions (include, tpl, required, fail, toYaml,
// fromYaml, toJson), missing keys rendering as empty, values read as Helm reads them
// (numbers become float64, as with sigs.k8s.io/yaml), later -f files merged over
// values.yaml, partials (_*.tpl) defining templates only, NOTES.txt rendered but not
// printed, and each non-empty manifest printed after "---" and a "# Source:" line.
//
// Usage: helmrender -chart DIR [-release NAME] [-namespace NS] [-f VALUES.yaml]...
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type valueFiles []string

func (v *valueFiles) String() string     { return strings.Join(*v, ",") }
func (v *valueFiles) Set(s string) error { *v = append(*v, s); return nil }

// normalize turns YAML-decoded data into what Helm's templates see: string-keyed maps and
// float64 numbers.
func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case map[string]interface{}:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, e := range x {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []interface{}:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	}
	return v
}

func readYAML(path string) (map[string]interface{}, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]interface{}{}
	if err := yaml.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return normalize(m).(map[string]interface{}), nil
}

// merge puts src over dst, recursing into maps (Helm's coalescing of -f files).
func merge(dst, src map[string]interface{}) {
	for k, v := range src {
		dm, dok := dst[k].(map[string]interface{})
		sm, sok := v.(map[string]interface{})
		if dok && sok {
			merge(dm, sm)
		} else {
			dst[k] = v
		}
	}
}

func toYAML(v interface{}) string {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return ""
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func funcMap(root **template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := yaml.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		var buf strings.Builder
		err := (*root).ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := (*root).Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", err
		}
		var buf strings.Builder
		err = t.Execute(&buf, data)
		return buf.String(), err
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	return f
}

func chartMeta(path string) (map[string]interface{}, error) {
	c, err := readYAML(path)
	if err != nil {
		return nil, err
	}
	if c["name"] == nil || c["version"] == nil {
		return nil, fmt.Errorf("%s: name and version are required", path)
	}
	meta := map[string]interface{}{}
	for k, v := range c { // Helm exposes Chart.yaml's fields capitalised: .Chart.AppVersion
		meta[strings.ToUpper(k[:1])+k[1:]] = v
	}
	return meta, nil
}

func run() error {
	chart := flag.String("chart", "", "chart folder")
	release := flag.String("release", "release-name", "release name")
	namespace := flag.String("namespace", "default", "namespace")
	var extra valueFiles
	flag.Var(&extra, "f", "values file merged over values.yaml (repeatable)")
	flag.Parse()
	if *chart == "" {
		return errors.New("-chart is required")
	}
	meta, err := chartMeta(filepath.Join(*chart, "Chart.yaml"))
	if err != nil {
		return err
	}
	values, err := readYAML(filepath.Join(*chart, "values.yaml"))
	if err != nil {
		return err
	}
	for _, f := range extra {
		v, err := readYAML(f)
		if err != nil {
			return err
		}
		merge(values, v)
	}
	var root *template.Template
	root = template.New("chart").Option("missingkey=zero").Funcs(funcMap(&root))
	dir := filepath.Join(*chart, "templates")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		text, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%v/templates/%s", meta["Name"], e.Name())
		if _, err := root.New(name).Parse(string(text)); err != nil {
			return err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	out := &strings.Builder{}
	for _, name := range names {
		base := filepath.Base(name)
		if strings.HasPrefix(base, "_") {
			continue
		}
		data := map[string]interface{}{
			"Values":       values,
			"Chart":        meta,
			"Release":      map[string]interface{}{"Name": *release, "Namespace": *namespace, "Service": "Helm", "IsInstall": true, "IsUpgrade": false, "Revision": 1},
			"Capabilities": map[string]interface{}{"KubeVersion": map[string]interface{}{"Version": "v1.27.1", "Major": "1", "Minor": "27"}},
			"Template":     map[string]interface{}{"Name": name, "BasePath": filepath.Dir(name)},
		}
		var buf strings.Builder
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if base == "NOTES.txt" || strings.TrimSpace(text) == "" {
			continue
		}
		fmt.Fprintf(out, "---\n# Source: %s\n%s\n", name, strings.TrimRight(text, "\n"))
	}
	_, err = os.Stdout.WriteString(out.String())
	return err
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helmrender:", err)
		os.Exit(1)
	}
}
