"""The dashboard's CSS: phone first (nothing wider than the screen, 44 px tap targets, labels
that wrap) and the "updating" banner shown while Streamlit reruns the page."""

PAGE_CSS = """
<style>
/* phone first: nothing wider than the screen, big tap targets, no hover-only help */
[data-testid="stHeader"] {display: none;}
.block-container, [data-testid="stMainBlockContainer"] {
  padding-top: 1.2rem; padding-left: 1rem; padding-right: 1rem; max-width: 1200px;}
[data-testid="stMain"] {overflow-x: hidden;}
.stButton button, .stDownloadButton button, [data-testid="stBaseButton-segmented_control"],
[data-testid="stBaseButton-segmented_controlActive"], [data-testid="stBaseButton-pills"],
[data-testid="stBaseButton-pillsActive"], [data-testid="stExpander"] summary,
[data-baseweb="select"] > div, [data-testid="stSelectbox"] [role="group"] {min-height: 44px;}
[data-testid="stBaseButton-segmented_control"], [data-testid="stBaseButton-segmented_controlActive"]
 {min-width: 64px; font-size: 1rem;}
[data-testid="stSlider"] [role="slider"] {width: 28px; height: 28px;}
[data-testid="stSlider"] {padding-left: 8px; padding-right: 8px;}
.verdict {border-left: 6px solid; border-radius: 8px; padding: 0.8rem 1rem; margin: 0.2rem 0 0.6rem;}
.verdict-title {font-size: 1.35rem; font-weight: 700; line-height: 1.25; margin-bottom: 0.4rem;}
.verdict p {margin: 0.25rem 0;}
.verdict-icon {display: inline-block; width: 1.6rem; height: 1.6rem; line-height: 1.6rem;
               border-radius: 50%; color: white; text-align: center; margin-right: 0.45rem;
               font-size: 1.05rem; vertical-align: 0.1rem;}
.verdict ul {margin: 0.2rem 0 0.2rem 1.1rem; padding: 0;}
.verdict .source, .small {display: block; font-size: 0.8rem; color: #555;}
.verdict details summary {cursor: pointer; font-weight: 600; min-height: 44px; padding-top: 10px;}
.verdict .conflict {background: #fff8e1; padding: 0.4rem 0.6rem; border-radius: 6px;}
.verdict .scope {background: #ede7f6; padding: 0.4rem 0.6rem; border-radius: 6px;}
.must-box {border: 2px solid #c62828; border-radius: 8px; padding: 0.6rem 0.8rem; background: #fff5f5;}
.must-title {font-weight: 700; color: #b71c1c; margin-bottom: 0.3rem;}
.must-box ul {margin: 0 0 0 1rem; padding: 0;}
.tag {display: inline-block; font-size: 0.75rem; border-radius: 10px; padding: 0 7px; margin-left: 4px;
      background: #eceff1; color: #37474f; white-space: nowrap;}
.tag.must {background: #c62828; color: white;}
.tag.serious {background: #ffcdd2; color: #8e0000;}
.bars {margin: 0.2rem 0 0.6rem;}
.bar-row {margin: 0 0 0.55rem;}
.bar-label {font-size: 0.95rem; line-height: 1.25; overflow-wrap: anywhere;}
.bar-line {display: flex; align-items: center; gap: 8px;}
.bar-track {position: relative; flex: 1 1 auto; min-width: 60px; height: 14px; background: #eeeeee;
            border-radius: 3px;}
.bar-fill {height: 14px; border-radius: 3px; min-width: 2px;}
.bar-ci {position: absolute; top: 6px; height: 2px; background: #212121;}
.bar-text {flex: 0 0 auto; font-size: 0.85rem; color: #333; white-space: nowrap;}
.step-head {font-size: 0.85rem; color: #455a64; font-weight: 600; text-transform: uppercase;
            letter-spacing: 0.03em;}
.question {font-size: 1.2rem; font-weight: 600; line-height: 1.3; margin: 0.2rem 0 0.3rem;}
.updating {display: none; position: fixed; top: 0; left: 0; right: 0; z-index: 1000000;
           background: #0d47a1; color: white; text-align: center; padding: 6px; font-weight: 600;}
body:has([data-testid="stStatusWidget"]) .updating,
body:has([data-stale="true"]) .updating {display: block;}
[data-stale="true"] {opacity: 0.45; transition: opacity 0.2s;}
.st-key-guided .stButton button {min-height: 52px; font-size: 1.05rem; height: auto;}
.stButton button p, .stDownloadButton button p {white-space: normal; overflow-wrap: anywhere;
  text-overflow: clip; overflow: visible;}
.stButton button div, .stDownloadButton button div {white-space: normal; overflow: visible;}
.advice-list {margin: 0.2rem 0 0.6rem 1.1rem; padding: 0;}
.advice-list li {margin-bottom: 0.45rem;}
.advice-list .small {display: block;}
.tech table {font-size: 0.8rem; display: block; overflow-x: auto;}
.mini-verdict {display: none; position: fixed; left: 0; right: 0; bottom: 0; z-index: 999990;
               color: white !important; text-align: center; padding: 12px 8px; min-height: 44px;
               font-weight: 600; text-decoration: none !important; box-sizing: border-box;}
@media (max-width: 640px) {
  .mini-verdict {display: block;}
  .block-container {padding-bottom: 5rem;}
  .verdict-title {font-size: 1.2rem;}
  .bar-text {font-size: 0.8rem;}
  h1 {font-size: 1.6rem !important;}
}
</style>
<div class="updating" role="status">Updating your result…</div>
"""
