"""Execute notebooks in place so the saved files show real output: python scripts/run_notebooks.py [names]"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
names = sys.argv[1:] or [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
for name in names:
    path = ROOT / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    nbformat.write(nb, path)
    print("executed", path.relative_to(ROOT))
