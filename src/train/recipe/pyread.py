# Reads recipe files back for recipe.test.ts: compiles each train.py and rewards.py (py_compile), and dumps
# the literal keyword arguments of every call and the literal module-level constants of train.py, parsed
# with the ast module; parses the accelerate YAMLs; lists zip archives. Prints one JSON object.
import ast
import json
import py_compile
import sys
import zipfile


def literal(node):
    try:
        return True, ast.literal_eval(node)
    except Exception:
        return False, None


def read_train(path):
    py_compile.compile(path, doraise=True)
    tree = ast.parse(open(path).read())
    calls, consts = {}, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if name and node.keywords:
                kwargs = {}
                for k in node.keywords:
                    ok, v = literal(k.value)
                    if k.arg and ok:
                        kwargs[k.arg] = v
                if kwargs:
                    calls.setdefault(name, kwargs)
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            ok, v = literal(node.value)
            if ok:
                consts[node.targets[0].id] = v
    return {"calls": calls, "consts": consts}


def main():
    req = json.load(sys.stdin)
    out = {"train": {}, "compiled": [], "yaml": {}, "zip": {}}
    for path in req.get("train", []):
        out["train"][path] = read_train(path)
    for path in req.get("compile", []):
        py_compile.compile(path, doraise=True)
        out["compiled"].append(path)
    if req.get("yaml"):
        import yaml

        for path in req["yaml"]:
            out["yaml"][path] = yaml.safe_load(open(path))
    for path in req.get("zip", []):
        with zipfile.ZipFile(path) as z:
            if z.testzip() is not None:
                raise SystemExit(f"{path}: bad CRC")
            out["zip"][path] = {n: z.read(n).decode("utf-8") for n in z.namelist()}
    print(json.dumps(out))


main()
