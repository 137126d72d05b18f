"""The served binary's code layout, from callgrind's record of a run (scripts/symbol-order,
scripts/instructions). The run is `valgrind --tool=callgrind --dump-instr=yes
revkeen-mock serve ...`; OBJECT is the served binary's file name.

    code_layout.py order CALLGRIND_OUT OBJECT FUNCTIONS
        The functions of OBJECT the run executed, in the order the linker should lay
        them out (one symbol a line, lld's --symbol-ordering-file): call chains kept
        together, hottest first (C3, below). FUNCTIONS names them: the binary itself
        when it has its symbol table, or, for a stripped binary (the dist build), the
        lld link map of its link (`-Wl,-Map=`, a file ending in .map).
    code_layout.py pages CALLGRIND_OUT OBJECT
        The 4 KiB pages of OBJECT's code the run executed: what the process's code
        occupies in memory, fault-around aside (the guard's figure).

Every cost is placed by its instruction's address, not by callgrind's function names:
in a stripped binary callgrind cannot tell one function from the next. Callgrind writes
an object's addresses as the file's own (its load offset taken off), so they are the
addresses of the symbol table and of the link map.

C3 (Ottoni and Maher, "Optimizing Function Placement for Large-Scale Data-Center
Applications", CGO 2017; what lld does with --call-graph-ordering-file, here over every
executed function so start-up's code is grouped too): functions in decreasing self
cost; each is appended, with its cluster, after the cluster of its most frequent caller,
while a cluster stays under 1 MiB; clusters are laid out by decreasing density (cost
per byte).
"""

import bisect
import collections
import re
import subprocess
import sys

CLUSTER_LIMIT = 1 << 20


class Functions:
    """A binary's functions by address: start, size and symbol."""

    # An input section of the map (address, size, the section's name) and a symbol
    # defined in the input section above it (address, name).
    MAP_SECTION = re.compile(
        r"\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+.*:\(\.text\.([^)\s]+)\)\s*$"
    )
    MAP_SYMBOL = re.compile(r"\s*[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+\d+\s+([^\s:()]+)\s*$")

    def __init__(self, found: list):
        found.sort()
        self.starts = [start for start, _, _ in found]
        self.found = found
        self.size = {symbol: size for _, size, symbol in found}

    @classmethod
    def of(cls, source: str) -> "Functions":
        found = []
        if source.endswith(".map"):
            # Each function is an input section `.text.SYMBOL` of the link; a section
            # named otherwise (glibc's `.text.avx`, several functions) goes by the
            # first symbol it defines, as the linker's ordering file needs a symbol.
            current = None
            with open(source) as f:
                for line in f:
                    m = cls.MAP_SECTION.match(line)
                    if m:
                        current = [int(m.group(1), 16), int(m.group(2), 16), m.group(3), []]
                        found.append(current)
                        continue
                    m = cls.MAP_SYMBOL.match(line)
                    if m and current is not None:
                        current[3].append(m.group(1))
            found = [
                (start, size, name if name in defined or not defined else defined[0])
                for start, size, name, defined in found
            ]
        else:
            out = subprocess.run(["nm", "-S", source], capture_output=True, text=True, check=True)
            for line in out.stdout.splitlines():
                parts = line.split()
                if len(parts) == 4 and parts[2] in "tTwW" and int(parts[1], 16) > 0:
                    found.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
        return cls(found)

    def at(self, address: int) -> str | None:
        i = bisect.bisect_right(self.starts, address) - 1
        if i < 0:
            return None
        start, size, symbol = self.found[i]
        return symbol if address < start + size else None


class Run:
    """What callgrind recorded for OBJECT: the addresses executed and, with the
    binary's functions, each function's self cost and the calls between them."""

    def __init__(self, path: str, obj: str, functions: Functions | None = None):
        self.addresses: set = set()
        self.cost: collections.Counter = collections.Counter()
        self.calls: collections.Counter = collections.Counter()
        objects: dict = {}

        def named(line: str) -> str | None:
            m = re.match(r"c?ob=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if not m:
                return line.split("=", 1)[1].strip()
            if m.group(2) is not None:
                objects[m.group(1)] = m.group(2)
            return objects.get(m.group(1))

        def ours(o: str | None) -> bool:
            return o is not None and o.rsplit("/", 1)[-1] == obj

        def function(address: int) -> str | None:
            return functions.at(address) if functions else None

        ob = cob = callee = None
        count = 0
        last = 0
        with open(path) as f:
            for line in f:
                if line.startswith("ob="):
                    ob = cob = named(line)
                elif line.startswith("cob="):
                    cob = named(line)
                elif line.startswith("fn="):
                    cob = ob
                elif line.startswith("calls="):
                    # calls=COUNT TARGET: the callee's address, written whole; the next
                    # line is the call site with the call's inclusive cost.
                    fields = line[6:].split()
                    count = int(fields[0])
                    target = int(fields[1], 0) if fields[1].startswith("0x") else None
                    callee = function(target) if ours(cob) and target is not None else None
                    cob = ob
                elif line[:1] in "0123456789+-*":
                    token = line.split()[0]
                    if token.startswith("0x"):
                        last = int(token, 16)
                    elif token[0] in "+-":
                        last += int(token, 0)
                    if not ours(ob):
                        callee = None
                        count = 0
                        continue
                    self.addresses.add(last)
                    here = function(last)
                    if count:
                        if here and callee and here != callee:
                            self.calls[(here, callee)] += count
                        callee, count = None, 0
                    elif here:
                        self.cost[here] += int(line.split()[-1])


def pages(run: Run) -> int:
    """The 4 KiB pages the run executed."""
    return len({address >> 12 for address in run.addresses})


def order(run: Run, size: dict) -> list:
    nodes = [f for f in run.cost if f in size]
    hottest_caller: dict = {}
    for (caller, callee), n in run.calls.items():
        if n > hottest_caller.get(callee, (0, None))[0]:
            hottest_caller[callee] = (n, caller)
    members = {f: [f] for f in nodes}
    cluster_of = {f: f for f in nodes}
    bytes_of = {f: max(size[f], 1) for f in nodes}
    cost_of = {f: run.cost[f] for f in nodes}
    for f in sorted(nodes, key=lambda f: -run.cost[f]):
        caller = hottest_caller.get(f, (0, None))[1]
        if caller is None or caller not in cluster_of:
            continue
        mine, theirs = cluster_of[f], cluster_of[caller]
        if mine == theirs or members[mine][0] != f:
            continue
        if bytes_of[mine] + bytes_of[theirs] > CLUSTER_LIMIT:
            continue
        for g in members[mine]:
            cluster_of[g] = theirs
        members[theirs] += members.pop(mine)
        bytes_of[theirs] += bytes_of[mine]
        cost_of[theirs] += cost_of[mine]
    laid = sorted(members, key=lambda c: -cost_of[c] / bytes_of[c])
    return [f for c in laid for f in members[c]]


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "order" and len(args) == 3:
        path, obj, source = args
        functions = Functions.of(source)
        run = Run(path, obj, functions)
        print("\n".join(order(run, functions.size)))
    elif command == "pages" and len(args) == 2:
        path, obj = args
        print(pages(Run(path, obj)))
    else:
        sys.exit("usage: code_layout.py order CALLGRIND_OUT OBJECT FUNCTIONS | pages CALLGRIND_OUT OBJECT")


if __name__ == "__main__":
    main()
