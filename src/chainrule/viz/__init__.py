"""Pictures of the computational graph: what chainrule computed, drawn.

``draw(y)`` writes the graph behind ``y`` with its values and gradients
(``drawing``), laid out by graphviz or by chainrule's own layered layout
(``layout``); ``explore(y)`` writes one HTML page that steps through the forward
and backward passes (``explorer``, ``page``) from a recorded ``trace``, which
``text`` also tells line by line; ``expr`` turns the command's
``chainrule graph "x*y+1"`` text into that graph.
"""

from chainrule.viz.drawing import Drawing, draw, format_array, format_grad, walk
from chainrule.viz.explorer import Explorer, explore
from chainrule.viz.trace import Trace, record

__all__ = ["Drawing", "Explorer", "Trace", "draw", "explore", "format_array", "format_grad",
           "record", "walk"]
