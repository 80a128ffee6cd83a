"""The tutorial's two scripts, transcribed from its text (../shared/seed).

Kept verbatim except that the plotting lines are dropped and each script is
a function returning what it printed, so tests can compare the reference
with the tutorial's own code, digit for digit.
"""

import contextlib
import io

BGD = '''
x_data = [1.0,2.0,3.0]
y_data = [2.0,4.0,6.0]

w = 1.0   #初始权重预测

def forward(x):
        return x * w

def cost(xs,ys):
    cost = 0
    for x,y in zip(xs,ys):
        y_pred = forward(x)
        cost += (y_pred - y) **2
    return cost/len(xs)


def gradient(xs,ys):
    grad = 0
    for x,y in zip(xs,ys):
        grad += 2 * x * (x * w - y)
    return grad / len(xs)


print('Predict (before training)',4,forward(4))

epoch_list = []
cost_list = []


for epoch in range(100):
    cost_val = cost(x_data,y_data)
    grad_val = gradient(x_data,y_data)
    w -= 0.01*grad_val       #这里的学习率设置成 0.01.
    print('Epoch:',epoch,'w=',w,'loss=',cost_val)
    epoch_list.append(epoch)
    cost_list.append(cost_val)

print('Predict (after training)',4,forward(4))
'''

SGD = '''
x_data = [1.0,2.0,3.0]
y_data = [2.0,4.0,6.0]

w = 1.0   #初始权重预测

def forward(x):
        return x * w

def loss(xs,ys):    #这里变换成loss,可去掉原先的cost = 0
      y_pred = forward(x)
      return  (y_pred - ys) **2


def gradient(xs,ys):
    return 2 * xs *(xs * w - ys)



print('Predict (before training)',4,forward(4))

epoch_list = []
loss_list = []


for epoch in range(100):
    for x,y in zip(x_data,y_data):
        grad_val = gradient(x,y)
        w -= 0.01*grad_val
        print('\\tgrad:',x,y,grad_val)
        l = loss(x,y)

    print('progress:',epoch,'w=',w,'loss=',l)
    epoch_list.append(epoch)
    loss_list.append(l)

print('Predict (after training)',4,forward(4))
'''


def run(script):
    """Execute a tutorial script; return its printed lines."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(script, "<tutorial>", "exec"), {})
    return out.getvalue().splitlines()
