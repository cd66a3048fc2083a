"""Pictures of the computational graph: what chainrule computed, drawn.

``draw(y)`` writes the graph behind ``y`` with its values and gradients
(``drawing``), laid out by graphviz or by chainrule's own layered layout
(``layout``); ``expr`` turns the command's ``chainrule graph "x*y+1"`` text
into that graph.
"""

from chainrule.viz.drawing import Drawing, draw, format_array, format_grad, walk

__all__ = ["Drawing", "draw", "format_array", "format_grad", "walk"]
