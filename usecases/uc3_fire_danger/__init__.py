"""UC3: next-day fire danger from weather, satellite and static layers of a cube.

`features` builds the training table lazily, `model` trains and scores against baselines, `plots`
draws the danger map and the feature importance; `uc3_fire_danger.py` is the notebook tying them up.
"""
