"""Tests of benches/code_layout.py on a hand-written callgrind record and link map
(scripts/test runs them: `python3 -m unittest discover -s benches`)."""

import os
import tempfile
import unittest

import code_layout

# A run of `bin`: main (0x1000) calls hot (0x2000) 90 times and cold (0x3000) once;
# hot calls leaf (0x4000) 90 times; libc's code is not `bin`'s and is left out.
RECORD = """# callgrind format
version: 1
positions: instr line
events: Ir

ob=(1) /work/target/dist/bin
fl=(1) ???
fn=(1) 0x0000000000001000
0x1000 0 5
+4 0 1
cob=(1)
cfn=(2) 0x0000000000002000
calls=90 0x2000 0
* 0 900
cfn=(3) 0x0000000000003000
calls=1 0x3000 0
+3 0 10

fn=(2)
0x2000 0 450
cfn=(4) 0x0000000000004000
calls=90 0x4000 0
+8 0 180
cob=(2) /usr/lib/libc.so.6
cfn=(5) memcpy
calls=5 0x9000 0
* 0 50

fn=(3)
0x3000 0 10
fn=(4)
0x4000 0 180

ob=(2)
fn=(5)
0x9000 0 50
"""

# lld's map of the same link: four function sections, one of them named by its
# section (`.text.avx`) rather than its symbol, and a section of another kind.
MAP = """             VMA              LMA     Size Align Out     In      Symbol
            1000             1000      100    16         /tmp/a.o:(.text.main)
            1000             1000        0     1                 main
            2000             2000      100    16         /tmp/a.o:(.text.hot)
            2000             2000        0     1                 hot
            3000             3000      100    16         /tmp/a.o:(.text.cold)
            3000             3000        0     1                 cold
            4000             4000      100    16         /tmp/libc.a(m.o):(.text.avx)
            4000             4000       80     1                 __leaf_avx
            5000             5000       10     8         /tmp/a.o:(.rodata.table)
"""


class CodeLayoutTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.record = os.path.join(self.dir.name, "run.out")
        self.map = os.path.join(self.dir.name, "link.map")
        with open(self.record, "w") as f:
            f.write(RECORD)
        with open(self.map, "w") as f:
            f.write(MAP)

    def tearDown(self):
        self.dir.cleanup()

    def test_the_map_names_each_function_section_by_a_symbol_it_defines(self):
        functions = code_layout.Functions.of(self.map)
        self.assertEqual(functions.at(0x2050), "hot")
        self.assertEqual(functions.at(0x4010), "__leaf_avx", "the section's first symbol")
        self.assertIsNone(functions.at(0x2100), "past the section's end")
        self.assertIsNone(functions.at(0x5000), "not code")

    def test_costs_and_calls_are_placed_by_address_in_the_object_only(self):
        run = code_layout.Run(self.record, "bin", code_layout.Functions.of(self.map))
        # The lines after `calls=` are the calls' inclusive costs, not the caller's own.
        self.assertEqual(run.cost["main"], 6)
        self.assertEqual(run.cost["hot"], 450)
        self.assertEqual(run.calls[("main", "hot")], 90)
        self.assertEqual(run.calls[("hot", "__leaf_avx")], 90)
        self.assertNotIn(("hot", "memcpy"), run.calls, "libc's memcpy is not the binary's")
        self.assertEqual(run.addresses, {0x1000, 0x1004, 0x1007, 0x2000, 0x2008, 0x3000, 0x4000})

    def test_c3_keeps_the_hot_chain_together_and_first(self):
        functions = code_layout.Functions.of(self.map)
        run = code_layout.Run(self.record, "bin", functions)
        self.assertEqual(code_layout.order(run, functions.size)[:3], ["main", "hot", "__leaf_avx"])
        self.assertEqual(set(code_layout.order(run, functions.size)), {"main", "hot", "cold", "__leaf_avx"})

    def test_pages_counts_the_distinct_pages_executed(self):
        # 0x1000-0x1007, 0x2000-0x2008, 0x3000 and 0x4000: four pages, libc's not counted.
        self.assertEqual(code_layout.pages(code_layout.Run(self.record, "bin")), 4)


if __name__ == "__main__":
    unittest.main()
