package sessiontracker

import (
	"fmt"
	"strings"
	"testing"
)

// benchBlock is one form field in the style of a web app page: markup,
// Ext JS and JSON. Its %[2]s names a helper; "webform" there puts a false
// marker into every block.
const benchBlock = `<div class="x-panel x-form-item" id="ext-comp-%[1]d" style="width:100%%">
<label for="field-%[1]d">Ort / Stadt</label><input type="text" name="city" value="Würzburg"
 data-qtip="Pflichtfeld" onfocus="window.%[2]s && %[2]s(this)"/>
<script>Ext.onReady(function(){Ext.create('Ext.form.field.Text',{renderTo:'field-%[1]d',
allowBlank:false,width:320,listeners:{change:function(f,v){window.console.log(v)}}})});</script>
<span class="hint">{"workflowName":"@@@ISAjaxCall@@@","row":%[1]d}</span>
`

// benchPage builds about 1 MiB of benchBlocks calling helper and spreads
// ids distinct IDs through it, in several renderings.
func benchPage(helper string, ids int) []byte {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, benchBlock, i, helper)
	}
	page := b.String()
	if ids == 0 {
		return []byte(page)
	}

	renderings := []string{
		"webform@@@W/f(2)_a@@@%d.xml",
		"webform&#64;&#64;&#64;W/f(2)_a&#64;&#64;&#64;%d.xml",
		`webform\u0040\u0040\u0040W\/f(2)_a@@@%d.xml`,
		"webform%%40%%40%%40W%%2Ff%%282%%29_a%%40%%40%%40%d.xml",
	}
	step := len(page) / ids
	var out strings.Builder
	for i := range ids {
		out.WriteString(page[i*step : (i+1)*step])
		fmt.Fprintf(&out, renderings[i%len(renderings)], 10000+i)
	}
	out.WriteString(page[ids*step:])
	return []byte(out.String())
}

// benchScript is about 1 MiB of minified library code, where 'w' is
// common (window, width, new), written in 32 KiB chunks as a proxy
// copies it.
func benchScript() []byte {
	const chunk = `Ext.define("Bench.window.Window",{extend:"Ext.panel.Panel",alias:"widget.window",` +
		`width:400,height:300,modal:false,closable:true,initComponent:function(){var me=this;` +
		`me.callParent(arguments);me.on("show",function(w){w.toFront()},me)},` +
		`onWindowResize:function(){var b=Ext.getBody().getViewSize();this.setSize(b.width,b.height)}});` + "\n"
	return []byte(strings.Repeat(chunk, 1<<20/len(chunk)))
}

// benchRows is about 1 MiB of table rows without a 'w', where the search
// for the marker's first byte finds nothing to stop at.
func benchRows() []byte {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		fmt.Fprintf(&b, "<tr><td>%d</td><td>Order %d</td><td>open</td></tr>\n", 10000+i, i)
	}
	return []byte(b.String())
}

func BenchmarkScanner(b *testing.B) {
	cases := []struct {
		name  string
		page  []byte
		chunk int
		want  int
	}{
		{"no_ids", benchPage("showHelp", 0), 0, 0},
		{"ten_ids", benchPage("showHelp", 10), 0, 10},
		{"no_ids_4KiB_chunks", benchPage("showHelp", 0), 4 << 10, 0},
		{"ten_ids_4KiB_chunks", benchPage("showHelp", 10), 4 << 10, 10},
		{"false_markers", benchPage("webformHelp", 0), 0, 0},
		{"script_no_ids", benchScript(), 32 << 10, 0},
		{"rows_no_ids", benchRows(), 32 << 10, 0},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			var sc Scanner
			b.SetBytes(int64(len(bc.page)))
			b.ReportAllocs()
			for b.Loop() {
				sc.Reset()
				if bc.chunk == 0 {
					_, _ = sc.Write(bc.page)
					continue
				}
				for p := bc.page; len(p) > 0; {
					k := min(len(p), bc.chunk)
					_, _ = sc.Write(p[:k])
					p = p[k:]
				}
			}
			if len(sc.IDs()) != bc.want {
				b.Fatalf("found %d IDs, want %d", len(sc.IDs()), bc.want)
			}
		})
	}
}
