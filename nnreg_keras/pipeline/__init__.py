"""The pipeline: from notebooks and profiles to a published report. It imports no lesson helper.

Stages, one module each: `profiles` (parameter profiles and notebooks' parameters cells), `runner`
(executes a notebook through papermill), `landing` (puts its outputs into reports/ in one step,
under a lock), `progress` (the progress line), `contract` (the results contract and its JSON
Schema), `report` (the HTML page), `shipped` (the templates, lessons and profiles shipped beside
the code), `lessons` (where a command finds its lessons, and `init`), `student` (student editions)
and `cli` (`nnreg-keras run|report|init|student`).
"""
