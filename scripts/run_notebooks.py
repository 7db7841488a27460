"""Execute the notebooks in place, as Jupyter does (kernel in notebooks/), so the saved files
show real output and plots: python scripts/run_notebooks.py [names]"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
names = sys.argv[1:] or [p.name for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
for name in names:
    path = ROOT / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    nbformat.write(nb, path)
    print("executed", path.relative_to(ROOT))
